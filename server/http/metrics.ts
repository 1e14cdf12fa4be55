// Prometheus metrics (prom-client), one registry per app: requests and latency
// by route and status, ceremony outcomes by kind, step and result, and challenges
// started by kind, and the outbox's deliveries (emails) by topic and result. One metric
// reads the database, the age of the oldest undelivered outbox row: every request that
// queues one does so for an email with an account or without alike (a recovery start
// queues one email either way). No other may: the count of stored challenges, say,
// would grow for known emails only, and so tell which emails have an account.
//
// Who may read them: on the service's own port, only a client with
// `Authorization: Bearer $METRICS_TOKEN`; without METRICS_TOKEN, nobody (404). A
// client's address cannot decide it: a proxy on this host is loopback to us and
// need not say it forwarded. On a listener of their own (METRICS_PORT, bound to
// METRICS_HOST, loopback by default) they need the token when one is set, and
// otherwise answer any request that does not say it came through a proxy.
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Deps } from '../deps.js';
import { oldestPending } from '../db/outbox.js';
import type { DeliveryResult } from '../outbox.js';
import { AppError } from '../errors.js';
import { apiKeyChecker } from './auth.js';
import { asAppError } from './errors.js';

export type CeremonyKind = 'registration' | 'authentication';

export interface Metrics {
  registry: Registry;
  middleware: RequestHandler;
  /** Runs one ceremony step, counts its outcome, and adds it (with the reason of a failure) to the request's log line. */
  ceremony<T>(req: Request, kind: CeremonyKind, step: 'start' | 'finish', run: () => Promise<T>): Promise<T>;
  /** GET /metrics, on the service's port or on a listener of its own (`dedicated`). */
  endpoint(where: { dedicated: boolean }): RequestHandler;
  /** Counts what the outbox worker did with one delivery. */
  outboxResult(topic: string, result: DeliveryResult): void;
  /** Counts one try at delivering a webhook, by event type and result. */
  webhookAttempt(type: string, result: 'delivered' | 'failed'): void;
}

export function createMetrics(deps: Pick<Deps, 'config' | 'log' | 'db' | 'outbox' | 'now'>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const ceremonies = new Counter({
    name: 'passkey_ceremonies_total',
    help: 'Ceremony steps by kind, step and result',
    labelNames: ['kind', 'step', 'result'] as const,
    registers: [registry],
  });
  // Counted when the start is answered, the same for an email with an account or without.
  const challengesStarted = new Counter({
    name: 'passkey_challenges_started_total',
    help: 'Challenges handed out, by ceremony kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });

  const outboxMessages = new Counter({
    name: 'outbox_messages_total',
    help: 'Outbox deliveries (topic email: emails) by result: queued, sent, retry (a failed try), failed (given up)',
    labelNames: ['topic', 'result'] as const,
    registers: [registry],
  });
  deps.outbox.onQueued((topic, count) => outboxMessages.inc({ topic, result: 'queued' }, count));
  new Gauge({
    name: 'outbox_oldest_pending_seconds',
    help: 'Age of the oldest undelivered outbox row, by topic (0: none)',
    labelNames: ['topic'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      this.set({ topic: 'email' }, 0);
      this.set({ topic: 'webhook' }, 0);
      const rows = await oldestPending(deps.db).catch(() => []);
      for (const row of rows) {
        if (row.oldest) this.set({ topic: row.topic }, Math.max(0, (deps.now().getTime() - Date.parse(String(row.oldest))) / 1000));
      }
    },
  });

  const middleware: RequestHandler = (req, res, next) => {
    const stop = duration.startTimer();
    res.on('finish', () => {
      // Route patterns, never raw paths: ids and junk URLs must not become labels.
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      requests.inc(labels);
      stop(labels);
    });
    next();
  };

  // The outcome goes on the request's log line; if the client left before it was
  // known (that line is written already), on a line of its own.
  function record(req: Request, outcome: Record<string, unknown>) {
    const res = req.res!;
    if (res.closed) deps.log.info({ reqId: req.id, ...outcome }, 'ceremony finished after the client left');
    else res.locals.log = outcome;
  }

  async function ceremony<T>(req: Request, kind: CeremonyKind, step: 'start' | 'finish', run: () => Promise<T>) {
    try {
      const result = await run();
      ceremonies.inc({ kind, step, result: 'success' });
      if (step === 'start') challengesStarted.inc({ kind });
      record(req, { ceremony: kind, step, outcome: 'success' });
      return result;
    } catch (error) {
      const code = asAppError(error)?.code ?? 'internal_error';
      ceremonies.inc({ kind, step, result: code });
      record(req, { ceremony: kind, step, outcome: 'failure', code, reason: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  }

  const checkToken = deps.config.metricsToken ? apiKeyChecker([deps.config.metricsToken], 'authorization', 'Bearer ') : undefined;
  const endpoint =
    ({ dedicated }: { dedicated: boolean }): RequestHandler =>
    async (req, res) => {
      if (checkToken) checkToken(req);
      else if (!dedicated || cameThroughProxy(req.headers)) throw new AppError('not_found', `No route for GET ${req.path}`);
      res.type(registry.contentType).send(await registry.metrics());
    };

  const outboxResult = (topic: string, result: DeliveryResult) => outboxMessages.inc({ topic, result });
  const webhookAttempts = new Counter({
    name: 'webhook_attempts_total',
    help: 'Tries at delivering a webhook, by event type and result (delivered: a 2xx answer)',
    labelNames: ['type', 'result'] as const,
    registers: [registry],
  });
  const webhookAttempt = (type: string, result: 'delivered' | 'failed') => webhookAttempts.inc({ type, result });

  return { registry, middleware, ceremony, endpoint, outboxResult, webhookAttempt };
}

// Headers by which proxies name the client they forward for. A proxy may send none
// of them, so their absence proves nothing; their presence is enough to refuse.
const proxyMarkers = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip'] as const;

/** Whether a request says it was forwarded by a proxy, whatever TRUST_PROXY says. */
export const cameThroughProxy = (headers: IncomingHttpHeaders) => proxyMarkers.some((name) => headers[name] !== undefined);
