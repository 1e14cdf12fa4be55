// One JSON line per request, written when it ends: its id (X-Request-Id, echoed when the
// client sent a sane one, else made), method, path, status, time taken, and what the handler
// put in `res.locals.log` (a ceremony's outcome, with the reason of a failure). Other lines
// about a request (errors) carry the same `reqId`. Headers and query strings are never
// logged, so no token or API key reaches the log this way. No logger is made per request,
// and a line is built only when its level is enabled.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

declare module 'http' {
  interface IncomingMessage {
    /** The request id, also sent back as X-Request-Id. */
    id: string;
  }
}

const saneId = /^[A-Za-z0-9._-]{1,64}$/;

export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && saneId.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    res.once('close', () => {
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!log.isLevelEnabled(level)) return;
      const message = !res.writableFinished ? 'request aborted' : res.statusCode >= 500 ? 'request errored' : 'request completed';
      log[level](
        {
          reqId: req.id,
          // The path only: a query string could carry a token some client put there.
          req: { method: req.method, url: req.originalUrl.split('?', 1)[0] },
          // A request aborted before its answer has no status (Node's default, 200, would lie).
          ...(res.headersSent && { res: { statusCode: res.statusCode } }),
          responseTime: Math.round(performance.now() - started),
          ...(res.locals.log as Record<string, unknown> | undefined),
        },
        message,
      );
    });
    next();
  };
}
