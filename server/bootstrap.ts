// From a Config to ready Deps: open and migrate the database, then load (or, on
// the very first start, create) the signing key and the server secret, and build
// what each app owns (the assertion verifier and its caches).
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Deps } from './deps.js';
import { migrate, openDatabase } from './db/connect.js';
import { createAssertionVerifier } from './ceremonies/assertion.js';
import { OutboxSignal } from './outbox.js';
import { loadServerSecret } from './secrets.js';
import { WebhookSubscriptions } from './webhooks/events.js';
import { loadSigningKeys } from './tokens/signing-keys.js';

export async function openDeps(config: Config, log: Logger, now: () => Date = () => new Date()): Promise<Deps> {
  const db = openDatabase({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    busyTimeoutMs: config.sqliteBusyTimeoutMs,
    synchronous: config.sqliteSynchronous,
    statementTimeoutMs: config.statementTimeoutMs,
    onPoolError: (error) => log.warn({ err: error }, 'database connection lost'),
  });
  try {
    await migrate(db);
    const keys = await loadSigningKeys(db, now());
    const serverSecret = await loadServerSecret(db, now());
    const webhooks = new WebhookSubscriptions(db);
    await webhooks.load();
    // Imported on demand: without REDIS_URL the client never loads.
    const redis = config.redisUrl ? await (await import('./redis.js')).connectRedis(config.redisUrl, log) : undefined;
    return { config, db, keys, serverSecret, assertionVerifier: createAssertionVerifier(), now, log, redis, outbox: new OutboxSignal(), webhooks };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/** Closes what openDeps opened. */
export async function closeDeps(deps: Deps): Promise<void> {
  await deps.redis?.close();
  await deps.db.destroy();
}
