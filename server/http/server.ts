// The HTTP server every app is served by: main.ts, the tests and the benchmark's bare Express.
// A slow client cannot hold the service's sockets: headers must arrive within HEADERS_TIMEOUT_SECONDS
// and the whole request within REQUEST_TIMEOUT_SECONDS, and above MAX_CONNECTIONS a new socket is
// closed at once. These limits bound what each client costs; a buffering reverse proxy in front is
// still what shields the service from many. A request Node refuses itself is answered as problem+json.
// Requests and responses are made with the app's prototypes, which Express would otherwise set on each.
import { createServer as createHttpServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import type { ConnectionLimits } from '../config.js';
import { answerClientError } from './errors.js';

export function createServer(app: Express, limits: ConnectionLimits): Server {
  // Setting a prototype per request defeats V8's inline caches: https://github.com/expressjs/express/issues/5998
  function Request(this: IncomingMessage, socket: Socket) {
    Reflect.apply(IncomingMessage, this, [socket]);
  }
  Request.prototype = app.request;
  function Response(this: ServerResponse, req: IncomingMessage, options: unknown) {
    Reflect.apply(ServerResponse, this, [req, options]);
  }
  Response.prototype = app.response;
  const server = createHttpServer(
    {
      IncomingMessage: Request as unknown as typeof IncomingMessage,
      ServerResponse: Response as unknown as typeof ServerResponse,
      // A request without Host reaches the app, which refuses it with problem+json (requireHost).
      requireHostHeader: false,
      headersTimeout: limits.headersTimeoutSeconds * 1000,
      requestTimeout: limits.requestTimeoutSeconds * 1000,
      keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
      // Node checks the deadlines on this timer, so it runs often enough for them to hold.
      connectionsCheckingInterval: Math.min(1000, (limits.headersTimeoutSeconds * 1000) / 4),
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  // A request Node cannot parse gets a problem+json answer too.
  server.on('clientError', answerClientError);
  return server;
}
