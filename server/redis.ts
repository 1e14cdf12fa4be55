// The optional Redis connection (REDIS_URL), used for shared rate-limit counters.
// Commands fail at once while disconnected (no offline queue), so a lost Redis
// never makes a request wait; the client reconnects by itself.
import type { Logger } from 'pino';
import { createClient, type RedisClientType } from 'redis';

export function connectRedis(url: string, log: Logger): RedisClientType {
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
  client.connect().catch(() => {});
  return client;
}
