// The periodic clean-up that keeps tables from growing without bound: expired
// challenges and email codes, sessions past their expiry (revoked or not: the token
// is dead either way), audit events older than AUDIT_RETENTION_DAYS, and outbox rows
// a week after they were sent or given up (kept that long to look into a delivery).
import type { Deps } from './deps.js';
import { deleteExpired } from './db/sweep.js';

export async function sweepExpired(deps: Pick<Deps, 'db' | 'now' | 'config'>) {
  const now = deps.now();
  const auditBefore = new Date(now.getTime() - deps.config.auditRetentionDays * 86_400_000);
  const outboxBefore = new Date(now.getTime() - 7 * 86_400_000);
  return deleteExpired(deps.db, now.toISOString(), auditBefore.toISOString(), outboxBefore.toISOString());
}

/** Sweeps every SWEEP_INTERVAL_SECONDS; returns a function that stops it. */
export function startSweeping(deps: Deps): () => void {
  const timer = setInterval(() => {
    sweepExpired(deps).then(
      (deleted) => deps.log.debug({ deleted }, 'swept expired rows'),
      (error: unknown) => deps.log.warn({ err: error }, 'sweep failed'),
    );
  }, deps.config.sweepIntervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
