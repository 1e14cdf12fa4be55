// Prometheus metrics (prom-client), one registry per app: requests and latency
// by route and status, ceremony outcomes by kind, step and result, and the
// challenges outstanding. GET /metrics needs `Authorization: Bearer $METRICS_TOKEN`
// when that is set, and otherwise answers only to the loopback interface.
import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { apiKeyChecker } from './auth.js';
import { asAppError } from './errors.js';

export type CeremonyKind = 'registration' | 'authentication';

export interface Metrics {
  registry: Registry;
  middleware: RequestHandler;
  /** Runs one ceremony step, counts its outcome, and adds it (with the reason of a failure) to the request's log line. */
  ceremony<T>(req: Request, kind: CeremonyKind, step: 'start' | 'finish', run: () => Promise<T>): Promise<T>;
  endpoint: RequestHandler;
}

export function createMetrics(deps: Pick<Deps, 'db' | 'now' | 'config' | 'log'>): Metrics {
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
  new Gauge({
    name: 'passkey_challenges_outstanding',
    help: 'Challenges issued and not yet used or expired',
    registers: [registry],
    // Without the database it keeps its last value: every other metric still answers.
    async collect() {
      const row = await deps.db
        .selectFrom('challenges')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('expires_at', '>', deps.now().toISOString())
        .executeTakeFirst()
        .catch((error: unknown) => void deps.log.warn({ err: error }, 'metrics: could not count the challenges outstanding'));
      if (row) this.set(Number(row.n));
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
  const endpoint: RequestHandler = async (req, res) => {
    if (checkToken) checkToken(req);
    // Only a client on this host itself: never through a proxy (a proxy on this host is
    // loopback to us, and a forwarded address can be made up), whatever TRUST_PROXY says.
    else if (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || !isLoopback(req.socket.remoteAddress)) {
      throw new AppError('not_found', `No route for GET ${req.path}`);
    }
    res.type(registry.contentType).send(await registry.metrics());
  };

  return { registry, middleware, ceremony, endpoint };
}

const isLoopback = (address: string | undefined) =>
  address === '::1' || address?.startsWith('127.') || address?.startsWith('::ffff:127.') || false;
