// Rate limits (express-rate-limit), per minute, counted in memory or, with
// REDIS_URL, in Redis so every instance shares them.
//
// Nobody can lock a victim out: limits are keyed by the client's IP, and the
// per-email limit by email *and* IP, so an attacker's requests only ever spend the
// attacker's own budget. Nothing is ever locked per account.
//
// If Redis is unreachable, requests pass without rate limiting (and it is logged):
// losing Redis must not take sign-in down.
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { SharedCounters } from '../redis.js';

export interface LimitDeps {
  config: Config;
  log: Logger;
  redis?: SharedCounters | undefined;
}

// During a Redis outage every request's limits fail the same way: warn at most once a minute.
function storeErrorReporter(log: Logger) {
  let lastWarned = -Infinity;
  let unreported = 0;
  return (error: unknown, limiter: string) => {
    if (Date.now() - lastWarned < 60_000) return void unreported++;
    log.warn({ err: error, limiter, unreported }, 'rate limit store error: requests pass without limits');
    lastWarned = Date.now();
    unreported = 0;
  };
}

function limiter(deps: LimitDeps, storeError: ReturnType<typeof storeErrorReporter>, name: string, limit: number, key: (req: Request) => string | undefined): RequestHandler {
  const { config, log, redis } = deps;
  const store = redis?.store(`${config.redisKeyPrefix}rl:${name}:`);
  return rateLimit({
    windowMs: 60_000,
    limit,
    store,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    passOnStoreError: true,
    skip: (req) => key(req) === undefined,
    keyGenerator: (req) => key(req)!,
    logger: {
      error: (error: unknown, message?: string) =>
        message?.includes('allowing request without rate-limiting')
          ? storeError(error, name)
          : log.warn({ err: error, limiter: name }, message ?? 'rate limit error'),
      warn: (error: unknown, message?: string) => log.warn({ err: error, limiter: name }, message ?? 'rate limit warning'),
    },
    validate: { xForwardedForHeader: false },
    handler: (req, res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
      res.set('Retry-After', String(seconds));
      next(new AppError('rate_limited', `Too many requests: try again in ${seconds} s`, { reason: `limit ${name}` }));
    },
  });
}

const clientIp = (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');

// The limiter runs before the body is validated: the email is hashed, so a key is
// always short, and no email is written to Redis in the clear.
function emailAndIp(req: Request) {
  const email = (req.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string') return undefined;
  return `${createHash('sha256').update(email.trim().toLowerCase()).digest('base64url')}|${clientIp(req)}`;
}

/** Registers every limit in front of the routes it guards. */
export function applyRateLimits(router: Router, deps: LimitDeps): void {
  const limits = deps.config.rateLimits;
  if (!limits.enabled) return;
  const storeError = storeErrorReporter(deps.log);
  const ceremonyIp = limiter(deps, storeError, 'ceremony-ip', limits.ceremonyPerIp, clientIp);
  const ceremonyEmail = limiter(deps, storeError, 'ceremony-email', limits.ceremonyPerEmail, emailAndIp);
  const introspection = limiter(deps, storeError, 'introspection-ip', limits.introspectionPerIp, clientIp);
  const account = limiter(deps, storeError, 'account-ip', limits.accountPerIp, clientIp);

  for (const path of ['/v1/challenges', '/v1/tokens']) {
    router.post(path, ceremonyIp, ceremonyEmail);
    router.put(path, ceremonyIp);
  }
  router.post('/v1/tokens/introspect', introspection);
  router.use(['/v1/me', '/v1/credentials', '/v1/sessions', '/v1/events'], account);
}
