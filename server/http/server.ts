// The HTTP server an app is served by: main.ts, the tests and the benchmark's bare
// Express all use this one.
//
// One slow client must not hold the service's sockets: headers must arrive within
// HEADERS_TIMEOUT_SECONDS and the whole request within REQUEST_TIMEOUT_SECONDS, or
// the connection is closed; above MAX_CONNECTIONS a new socket is closed at once.
// Node checks those deadlines on a timer, so it runs often enough for them to hold.
// A buffering reverse proxy in front is still what shields the service from many
// slow clients: these limits only bound what each costs.
//
// A request without Host reaches the app (requireHostHeader: false), so that it is
// refused with problem+json there (http/errors.ts requireHost) instead of Node's bare 400.
//
// Express 5 gives every request and response its app's prototype, with
// Object.setPrototypeOf in app.handle. Changing an object's prototype changes its
// hidden class, and the inline caches that V8 keeps for property reads, in
// Express, in Node's HTTP code and in ours, then miss on those objects. That is
// about half of bare Express's CPU per request (expressjs/express#5998; README,
// Performance). This server makes requests and responses with the app's
// prototypes from the start, so that call changes nothing. Express keeps working as
// it does: its methods and getters are found on the same prototypes.
import { createServer as createHttpServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import type { ConnectionLimits } from '../config.js';
import { answerClientError } from './errors.js';

export function createServer(app: Express, limits: ConnectionLimits): Server {
  // Node's own IncomingMessage and ServerResponse initialise the object they are
  // called on; only the prototype differs.
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
      requireHostHeader: false,
      headersTimeout: limits.headersTimeoutSeconds * 1000,
      requestTimeout: limits.requestTimeoutSeconds * 1000,
      keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
      connectionsCheckingInterval: Math.min(1000, (limits.headersTimeoutSeconds * 1000) / 4),
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  // A request Node cannot parse gets a problem+json answer too.
  server.on('clientError', answerClientError);
  return server;
}
