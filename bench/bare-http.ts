// The HTTP floor: a server that answers a sign-in ceremony's two requests with
// canned replies recorded from the real service, and does nothing else. Run by
// bench/run.ts under the same pinning and load as the service, it measures what
// HTTP costs before any of the service's own work:
//   BARE=node     node:http, the body read and parsed, the reply serialised
//   BARE=express  Express 5 with express.json() and res.json(), no other middleware,
//                 served as the service serves its app (server/http/server.ts)
// BARE_REPLIES holds the replies as JSON: { "start": {...}, "finish": {...} }.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { loadConfig } from '../server/config.js';
import { createServer as createExpressServer } from '../server/http/server.js';

const replies = JSON.parse(process.env.BARE_REPLIES ?? '{}') as { start: unknown; finish: unknown };
const port = Number(process.env.PORT);

function nodeHandler(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const reply = req.method === 'POST' ? replies.start : req.method === 'PUT' ? replies.finish : {};
    const body = JSON.stringify(reply);
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
  });
}

function expressApp() {
  const app = express();
  app.disable('x-powered-by').set('etag', false); // as the service does
  app.use(express.json());
  app.post('/v1/tokens', (_req, res) => void res.json(replies.start));
  app.put('/v1/tokens', (_req, res) => void res.json(replies.finish));
  app.get('/readyz', (_req, res) => void res.json({}));
  return app;
}

(process.env.BARE === 'express' ? createExpressServer(expressApp(), loadConfig({}).connections) : createServer(nodeHandler)).listen(port, '127.0.0.1');
// Exit cleanly on SIGTERM, so that --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
