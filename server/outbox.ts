// The outbox worker: delivers what committed changes queued (server/db/outbox.ts),
// at least once, by topic ('email', 'webhook'). Rules:
// - A row is claimed with a lease before its handler runs; a crash mid-delivery
//   leaves it to be claimed again when the lease runs out (so a receiver may see a
//   delivery twice, never none).
// - A handler that throws is retried with growing, jittered delays for `retryForSeconds`
//   after the row was queued, then the row is marked failed; a PermanentFailure fails it at once.
// - At most `batchSize` deliveries run at once per instance, each settled on its own, and at
//   most `perKey` of one key (a webhook endpoint) at once (db/outbox.ts): a receiver that
//   hangs holds that many slots, and no more.
// - Each instance polls every `pollMs` (rows other instances queued, retries that came
//   due) and is woken at once when a request of its own queued something.
import type { Deps } from './deps.js';
import { claimDueMessages, markDelivered, markUndelivered, type ClaimedMessage } from './db/outbox.js';

/** Told by request code after the transaction that queued a row committed, so a worker wakes. */
export class OutboxSignal {
  private readonly listeners = new Set<(topic: string, count: number) => void>();

  queued(topic: string, count = 1): void {
    for (const listener of this.listeners) listener(topic, count);
  }

  onQueued(listener: (topic: string, count: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A delivery that retrying cannot fix (a mailbox that does not exist). */
export class PermanentFailure extends Error {}

export type OutboxHandler = (payload: unknown, message: ClaimedMessage) => Promise<void>;

export type DeliveryResult = 'sent' | 'retry' | 'failed';

export interface OutboxOptions {
  pollMs: number;
  leaseSeconds: number;
  /** Deliveries in flight at once, per instance. */
  batchSize: number;
  /** Deliveries of one key (a webhook endpoint) in flight at once, across instances. */
  perKey: number;
  retryForSeconds: number;
  firstRetrySeconds: number;
  maxRetrySeconds: number;
  onResult?: (topic: string, result: DeliveryResult) => void;
}

export const defaultOutboxOptions: OutboxOptions = {
  pollMs: 1000,
  // Longer than a handler may take (SMTP's own timeouts add up to under a minute).
  leaseSeconds: 120,
  batchSize: 32,
  perKey: 8,
  retryForSeconds: 24 * 3600,
  firstRetrySeconds: 5,
  maxRetrySeconds: 15 * 60,
};

/** The delay before try `attempts + 1`: doubling from firstRetrySeconds, capped, with jitter so instances do not retry in step. */
export function retryDelaySeconds(attempts: number, options: Pick<OutboxOptions, 'firstRetrySeconds' | 'maxRetrySeconds'>, random = Math.random()): number {
  const base = Math.min(options.firstRetrySeconds * 2 ** Math.max(0, attempts - 1), options.maxRetrySeconds);
  return base * (0.75 + random * 0.5);
}

export interface OutboxWorker {
  /** Stops polling and waits for the deliveries in flight. */
  stop(): Promise<void>;
}

export function startOutboxWorker(deps: Deps, handlers: Record<string, OutboxHandler>, options: OutboxOptions = defaultOutboxOptions): OutboxWorker {
  const { log } = deps;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let claiming: Promise<void> | undefined;
  let wokenWhileClaiming = false;
  // Deliveries running now, and the claims not yet marked.
  let busy = 0;
  const batches = new Set<Promise<void>>();

  /** Delivers one claimed row; a failure is settled at once (due again later, or failed). Returns whether it was delivered. */
  async function deliver(message: ClaimedMessage): Promise<boolean> {
    const handler = handlers[message.topic];
    const now = deps.now();
    try {
      if (!handler) throw new Error(`no handler for topic ${message.topic}`);
      await handler(JSON.parse(message.payload), message);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const expired = now.getTime() - Date.parse(message.created_at) >= options.retryForSeconds * 1000;
      const failed = error instanceof PermanentFailure || expired;
      const nextAttemptAt = failed ? undefined : new Date(now.getTime() + retryDelaySeconds(message.attempts, options) * 1000).toISOString();
      await markUndelivered(deps.db, message, { error: reason, nextAttemptAt, now: now.toISOString() });
      // The row's id and topic only: a payload may hold a code.
      log.warn(
        { outboxId: message.id, topic: message.topic, attempts: message.attempts, nextAttemptAt, err: reason },
        failed ? 'delivery failed for good' : 'delivery failed: will retry',
      );
      options.onResult?.(message.topic, failed ? 'failed' : 'retry');
      return false;
    }
  }

  /** Delivers a claim's rows, each freeing its slot when done, then marks the delivered ones in one write. */
  async function settle(claimed: ClaimedMessage[]): Promise<void> {
    const delivered: ClaimedMessage[] = [];
    await Promise.all(
      claimed.map(async (message) => {
        try {
          if (await deliver(message)) delivered.push(message);
        } catch (error) {
          log.warn({ err: error, outboxId: message.id }, 'outbox: could not settle a delivery');
        } finally {
          busy--;
          tick();
        }
      }),
    );
    const marked = new Set(await markDelivered(deps.db, delivered, deps.now().toISOString()));
    for (const message of delivered) {
      if (!marked.has(message.id)) continue;
      log.info({ outboxId: message.id, topic: message.topic, attempts: message.attempts }, 'delivered');
      options.onResult?.(message.topic, 'sent');
    }
  }

  // Claims while there is room, and starts each claim's deliveries without waiting for
  // earlier ones: a receiver that hangs keeps its key's slots and no more.
  async function claim() {
    while (running && busy < options.batchSize) {
      const claimed = await claimDueMessages(deps.db, deps.now(), options.leaseSeconds, options.batchSize - busy, options.perKey);
      if (claimed.length === 0) return;
      busy += claimed.length;
      const batch: Promise<void> = settle(claimed)
        .catch((error: unknown) => log.warn({ err: error }, 'outbox: could not mark deliveries'))
        .finally(() => batches.delete(batch));
      batches.add(batch);
    }
  }

  function tick() {
    if (!running) return;
    if (claiming) {
      wokenWhileClaiming = true;
      return;
    }
    clearTimeout(timer);
    claiming = claim()
      .catch((error: unknown) => log.warn({ err: error }, 'outbox: could not claim deliveries'))
      .finally(() => {
        claiming = undefined;
        const again = wokenWhileClaiming;
        wokenWhileClaiming = false;
        if (running) {
          timer = setTimeout(tick, again ? 0 : options.pollMs);
          timer.unref();
        }
      });
  }

  const unsubscribe = deps.outbox.onQueued(() => tick());
  tick();

  return {
    async stop() {
      running = false;
      unsubscribe();
      clearTimeout(timer);
      await claiming;
      await Promise.all(batches);
    },
  };
}
