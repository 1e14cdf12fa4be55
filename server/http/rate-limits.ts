// Rate limits (express-rate-limit), per minute, counted in memory or, with
// REDIS_URL, in Redis so every instance shares them.
//
// Nobody can lock a victim out: limits are keyed by the client's IP, and the
// per-email limit by email *and* IP, so an attacker's requests only ever spend the
// attacker's own budget. Nothing is ever locked per account.
//
// Everyone behind one address (a NAT, a company proxy) shares its per-IP budgets.
// Usernameless sign-in starts, which a page with autofill makes on every view, have
// a larger bucket of their own, so browsing does not spend the ceremony budget.
//
// Emails sent on request (recovery, a new verification code) also spend a budget of
// the address itself, whoever asks (RATE_LIMIT_EMAILS_PER_ADDRESS per hour), so that
// nobody can flood a mailbox from many addresses. Reaching it delays a person's own
// recovery by at most an hour: that is the price of not being a mail cannon.
//
// If Redis is unreachable, requests pass without rate limiting (and it is logged):
// losing Redis must not take sign-in down.
import { createHmac } from 'node:crypto';
import type { Request, RequestHandler, Response, Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { SharedCounters } from '../redis.js';

export interface LimitDeps {
  config: Config;
  log: Logger;
  redis?: SharedCounters | undefined;
  /** Keys the per-email HMAC: without it, a key in Redis cannot be tested against a list of emails. */
  serverSecret: Uint8Array;
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

function limiter(
  deps: LimitDeps,
  storeError: ReturnType<typeof storeErrorReporter>,
  name: string,
  limit: number,
  key: (req: Request) => string | undefined,
  windowMs = 60_000,
): RequestHandler {
  const { config, log, redis } = deps;
  const store = redis?.store(`${config.redisKeyPrefix}rl:${name}:`);
  return rateLimit({
    windowMs,
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

const email = (req: Request) => (req.body as { email?: unknown } | undefined)?.email;

const emailDigest = (secret: Uint8Array, value: string) => createHmac('sha256', secret).update(`rateLimit:${value.trim().toLowerCase()}`).digest('base64url');

// The limiter runs before the body is validated: the email is hashed, so a key is
// always short, and keyed with the server secret, so that no email can be found
// from a key (an unsalted hash of an email is a lookup away from the email).
function emailAndIp(secret: Uint8Array) {
  return (req: Request) => {
    const value = email(req);
    if (typeof value !== 'string') return undefined;
    return `${emailDigest(secret, value)}|${clientIp(req)}`;
  };
}

// A sign-in start without an email is usernameless (autofill); one with anything
// else, even a malformed email, spends the ceremony budget.
const usernameless = (req: Request) => (email(req) === undefined ? clientIp(req) : undefined);
const unlessUsernameless =
  (limit: RequestHandler): RequestHandler =>
  (req, res, next) =>
    email(req) === undefined ? next() : limit(req, res, next);

/** Spends one email of the address's hourly budget, or throws rate_limited (with Retry-After set). */
export type EmailBudget = (req: Request, res: Response, email: string) => Promise<void>;

const budgetKey = Symbol('email budget key');

/** Registers every limit in front of the routes it guards; returns the per-address email budget, which handlers spend. */
export function applyRateLimits(router: Router, deps: LimitDeps): EmailBudget {
  const limits = deps.config.rateLimits;
  if (!limits.enabled) return async () => {};
  const storeError = storeErrorReporter(deps.log);
  const ceremonyIp = limiter(deps, storeError, 'ceremony-ip', limits.ceremonyPerIp, clientIp);
  const ceremonyEmail = limiter(deps, storeError, 'ceremony-email', limits.ceremonyPerEmail, emailAndIp(deps.serverSecret));
  const discoverable = limiter(deps, storeError, 'discoverable-ip', limits.discoverablePerIp, usernameless);
  const introspection = limiter(deps, storeError, 'introspection-ip', limits.introspectionPerIp, clientIp);
  const account = limiter(deps, storeError, 'account-ip', limits.accountPerIp, clientIp);
  const emailAddress = limiter(
    deps,
    storeError,
    'email-address',
    limits.emailsPerAddressPerHour,
    (req) => (req as Request & { [budgetKey]?: string })[budgetKey],
    3_600_000,
  );

  router.post('/v1/challenges', ceremonyIp, ceremonyEmail);
  router.post('/v1/tokens', unlessUsernameless(ceremonyIp), discoverable, ceremonyEmail);
  for (const path of ['/v1/challenges', '/v1/tokens']) router.put(path, ceremonyIp);
  router.post('/v1/tokens/introspect', introspection);
  const admin = limiter(deps, storeError, 'admin-ip', limits.adminPerIp, clientIp);

  router.use('/v1/admin', admin);
  router.post('/v1/recovery', ceremonyIp, ceremonyEmail);
  router.put('/v1/recovery', ceremonyIp);
  router.use(['/v1/me', '/v1/credentials', '/v1/sessions', '/v1/events', '/v1/email-verification'], account);

  return (req, res, address) =>
    new Promise((resolve, reject) => {
      (req as Request & { [budgetKey]?: string })[budgetKey] = emailDigest(deps.serverSecret, address);
      void emailAddress(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
    });
}
