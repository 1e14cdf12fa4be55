// The only place that writes problem+json. Body-parser failures, unknown routes,
// wrong methods and thrown AppErrors all end here; anything else is a bug: 500,
// logged with its stack, and nothing of it shown to the client.
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/errors.js';
import { AppError, toProblem, type ErrorCode } from '../errors.js';

/** What a client is told about an error: undefined for a bug (500). */
export function asAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  // Client errors raised by Express or body-parser carry a 4xx status (http-errors):
  // malformed JSON, bodies too large, unknown encodings, bad percent-encoding in a path.
  const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ErrorCode =
      type === 'entity.parse.failed' ? 'invalid_json' : status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    return new AppError(code, (error as Error).message, { cause: error });
  }
  if (isDatabaseUnavailable(error)) {
    return new AppError('service_unavailable', 'The database is unavailable: try again shortly', { cause: error });
  }
  return undefined;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const appError = asAppError(error);
    if (!appError) {
      log.error({ reqId: req.id, err: error }, 'unhandled error');
    } else if (appError.code === 'service_unavailable') {
      log.warn({ reqId: req.id, err: appError.cause }, 'database unavailable');
    }
    if (res.headersSent) return;
    const problem = toProblem(appError ?? new AppError('internal_error', 'Something went wrong on our side'));
    if (problem.code === 'unauthorized') res.set('WWW-Authenticate', 'Bearer');
    if (problem.code === 'service_unavailable') res.set('Retry-After', '5');
    res.status(problem.status).type('application/problem+json').json(problem);
  };
}

export const notFound: RequestHandler = (req) => {
  throw new AppError('not_found', `No route for ${req.method} ${req.path}`);
};

export const methodNotAllowed =
  (allowed: string[]): RequestHandler =>
  (req, res) => {
    res.set('Allow', allowed.join(', '));
    throw new AppError('method_not_allowed', `${req.method} is not allowed here; use ${allowed.join(' or ')}`);
  };

// What Node's HTTP server reports before Express sees a request, as the client is told it.
function clientErrorProblem(code: string | undefined): AppError {
  // RFC 6585: headers over the limit are 431, not 413 (which is about the body).
  if (code === 'HPE_HEADER_OVERFLOW') return new AppError('headers_too_large', 'Request headers too large');
  // HEADERS_TIMEOUT_SECONDS or REQUEST_TIMEOUT_SECONDS passed before the request was whole.
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('request_timeout', 'The request did not arrive in time');
  return new AppError('invalid_request', 'Malformed HTTP request');
}

/**
 * Requests Node's HTTP parser rejects before Express sees them (an unknown
 * method, a malformed request line or header, headers too large, a request too
 * slow) still get problem+json, and the connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // An answer already under way on this connection would be corrupted: just close it.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const problem = toProblem(clientErrorProblem(error.code));
  const body = JSON.stringify(problem);
  // Closed for good once written: the server keeps connections half-open, and a
  // client that never closes its side would otherwise keep the socket.
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/**
 * HTTP/1.1 requires exactly one Host (RFC 9112 §3.2): a request without one, or
 * with several, is refused here, as problem+json (the server lets it through
 * rather than answer Node's bare 400).
 */
export const requireHost: RequestHandler = (req, _res, next) => {
  const hosts = req.headersDistinct.host?.length ?? 0;
  if (hosts > 1 || (hosts === 0 && (req.httpVersionMajor > 1 || req.httpVersionMinor >= 1))) {
    throw new AppError('invalid_request', hosts ? 'Send one Host header' : 'Send a Host header');
  }
  next();
};

/** Personal answers must not be kept by a browser or a shared cache: every /v1 answer, error or not. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};

/**
 * POST, PUT and PATCH bodies must be JSON; a request without a body counts as `{}`.
 * An empty body without a type (`Content-Length: 0`, as fetch sends a POST without one) is no body.
 */
export const requireJson: RequestHandler = (req, _res, next) => {
  const empty = req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined && req.headers['content-type'] === undefined;
  if (!empty && req.is('application/json') === false) {
    throw new AppError('unsupported_media_type', 'Send the body as application/json');
  }
  next();
};
