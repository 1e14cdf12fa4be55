import { Router } from 'express';
import { sql } from 'kysely';
import { durabilityFailure } from '../db/connect.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { openApiDocument } from '../openapi.js';
import { route } from '../http/route.js';

export function operationsRouter(deps: Deps, metrics: Metrics): Router {
  const router = Router();
  const document = openApiDocument(deps.config);

  route(router, '/healthz', { get: (_req, res) => void res.json({ status: 'ok' }) });

  route(router, '/readyz', {
    get: async (_req, res) => {
      await sql`select 1`.execute(deps.db).catch((error: unknown) => {
        throw new AppError('service_unavailable', 'The database does not answer', { cause: error });
      });
      const failure = durabilityFailure(deps.db);
      if (failure) throw new AppError('service_unavailable', 'The database cannot write to disk', { cause: failure });
      res.json({ status: 'ready' });
    },
  });

  route(router, '/metrics', { get: metrics.endpoint({ dedicated: false }) });

  route(router, '/openapi.json', { get: (_req, res) => void res.json(document) });

  return router;
}
