// The HTTP server an app is served by: main.ts, the tests and the benchmark's bare
// Express all use this one.
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
import { answerClientError } from './errors.js';

export function createServer(app: Express): Server {
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
    { IncomingMessage: Request as unknown as typeof IncomingMessage, ServerResponse: Response as unknown as typeof ServerResponse },
    app,
  );
  // A request Node cannot parse gets a problem+json answer too.
  server.on('clientError', answerClientError);
  return server;
}
