// Builds the Express app from its dependencies. It never listens: main.ts does,
// and tests build a fresh app per test.
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import type { Deps } from './deps.js';
import { errorHandler, noStore, notFound, requireHost, requireJson } from './http/errors.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { requestLog } from './http/request-log.js';
import { apiRouter } from './routes/api.js';
import { operationsRouter } from './routes/operations.js';
import { webRouter } from './routes/web.js';

export function createApp(deps: Deps, metrics: Metrics = createMetrics(deps)): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No hash of every API answer: the web routes set their own ETags (see web.ts).
  app.set('etag', false);
  // Whether X-Forwarded-For is believed (TRUST_PROXY): by default it is not, so a
  // spoofed header neither changes req.ip nor buys a fresh rate-limit bucket.
  app.set('trust proxy', deps.config.trustProxy);
  // One JSON log line per request, with a ceremony's outcome; its id is echoed as X-Request-Id.
  app.use(requestLog(deps.log));
  app.use(metrics.middleware);
  // The JWKS and the web routes set their own caching; nothing under /v1 is cached.
  app.use('/v1', noStore);
  app.use(requireHost);
  // The demo page runs under a strict policy: scripts, styles and requests to this origin
  // only, no eval (Alpine's CSP build), no inline code, never framed. No
  // upgrade-insecure-requests: the service is used over http://localhost in development.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
        },
      },
      xFrameOptions: { action: 'deny' },
    }),
  );
  // Exact-match origins only; `cors` adds Vary: Origin and answers preflights. Never for
  // the admin API: only a backend calls it, and no page may, whatever its origin.
  const allowOrigins = cors({
    origin: deps.config.origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'Authorization'],
    // So a form on another origin can say how long to wait after a 429.
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  });
  app.use((req, res, next) => (req.path.startsWith('/v1/admin/') ? next() : allowOrigins(req, res, next)));
  app.use(requireJson);
  app.use(express.json({ limit: deps.config.bodyLimit, strict: true }));
  app.use(apiRouter(deps, metrics));
  app.use(operationsRouter(deps, metrics));
  app.use(webRouter());
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}

/**
 * GET /metrics alone, for a listener of its own (METRICS_PORT): whoever reaches
 * that port may read the metrics, unless METRICS_TOKEN is set (see http/metrics.ts).
 */
export function createMetricsApp(deps: Deps, metrics: Metrics): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/metrics', metrics.endpoint({ dedicated: true }));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
