// Builds the Express app from its dependencies. It never listens: main.ts does,
// and tests build a fresh app per test.
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import type { Deps } from './deps.js';
import { errorHandler, notFound, requireJson } from './http/errors.js';
import { apiRouter } from './routes/api.js';
import { operationsRouter } from './routes/operations.js';

export function createApp(deps: Deps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet());
  // Exact-match origins only; `cors` adds Vary: Origin and answers preflights.
  app.use(
    cors({
      origin: deps.config.origins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Content-Type', 'Authorization'],
      maxAge: 600,
    }),
  );
  app.use(requireJson);
  app.use(express.json({ limit: deps.config.bodyLimit, strict: true }));
  app.use(apiRouter(deps));
  app.use(operationsRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
