// The optional Redis connection (REDIS_URL), used for shared rate-limit counters.
// Commands fail at once while disconnected (no offline queue), so a lost Redis
// never makes a request wait; the client reconnects by itself.
import type { Logger } from 'pino';
import { createClient, type RedisClientType } from 'redis';

/** Connects, waiting up to `waitMs` for Redis; never fails: without Redis, limits are off until it comes. */
export async function connectRedis(url: string, log: Logger, waitMs = 2000): Promise<RedisClientType> {
  const client: RedisClientType = createClient({
    url,
    disableOfflineQueue: true,
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
  await Promise.race([
    client.connect().catch(() => {}),
    new Promise((resolve) => (timer = setTimeout(resolve, waitMs))),
  ]);
  clearTimeout(timer);
  return client;
}
