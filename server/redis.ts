// The optional Redis connection (REDIS_URL), used for shared rate-limit counters.
// Commands fail at once while disconnected (no offline queue), after
// COMMAND_TIMEOUT_MS when a connected Redis stops answering, and at once when
// MAX_PENDING commands are waiting for it: a lost or stalled Redis never makes a
// request wait longer. The client reconnects by itself.
//
// Loaded only when REDIS_URL is set (bootstrap imports it on demand): a service
// without Redis does not carry the client in memory.
import type { Store } from 'express-rate-limit';
import type { Logger } from 'pino';
import { RedisStore } from 'rate-limit-redis';
import { createClient, type RedisClientType } from 'redis';

export interface SharedCounters {
  client: RedisClientType;
  /** A rate-limit store whose keys start with `prefix`. */
  store(prefix: string): Store;
  /** Lets commands under way finish (for a moment, not waiting on a stalled Redis), then disconnects. */
  close(): Promise<void>;
}

// Redis answers a rate-limit increment in well under a millisecond; past this it is stalled.
const COMMAND_TIMEOUT_MS = 250;
const MAX_PENDING = 1000;
const CLOSE_TIMEOUT_MS = 1000;

// The client's own command timeout stops only at the write: a command sent to a
// Redis that never answers would wait for ever. (Its reply, if one comes, is dropped.)
function answeredWithin<T>(reply: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([reply, timeout]).finally(() => clearTimeout(timer));
}

// rate-limit-redis keeps a failed script load forever; load it again after any failure.
class ReconnectingRedisStore extends RedisStore {
  override async increment(key: string) {
    try {
      return await super.increment(key);
    } catch (error) {
      this.incrementScriptSha = this.loadIncrementScript(key);
      this.incrementScriptSha.catch(() => {});
      throw error;
    }
  }
}

/** Connects, waiting up to `waitMs` for Redis; never fails: without Redis, limits are off until it comes. */
export async function connectRedis(url: string, log: Logger, waitMs = 2000): Promise<SharedCounters> {
  const client: RedisClientType = createClient({
    url,
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_PENDING,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000) },
  });
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) log.warn({ err: error }, 'redis unavailable: rate limits are not enforced until it is back');
    reported = true;
  });
  client.on('ready', () => {
    if (reported) log.info('redis is back');
    reported = false;
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.connect().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  return {
    client,
    store: (prefix) => new ReconnectingRedisStore({ prefix, sendCommand: (...args: string[]) => answeredWithin(client.sendCommand(args), COMMAND_TIMEOUT_MS) }),
    async close() {
      // close() waits for every reply still due, which a stalled Redis never sends.
      const giveUp = setTimeout(() => client.destroy(), CLOSE_TIMEOUT_MS);
      await client.close().catch(() => {});
      clearTimeout(giveUp);
    },
  };
}
