// Random paths and methods, without a body or credentials.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { anyString } from './arbitraries.js';
import { dbState, expectDb, nothing, send, startsChallenge } from './oracles.js';
import { RUN_TIMEOUT, useWorld } from './world.js';

describe('fuzz: random paths and methods', () => {
  const world = useWorld();
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'LOCK', 'PURGE', 'MKCOL', 'SEARCH', 'REPORT', 'COPY', 'MOVE'];
  const knownPaths = [
    '/',
    '/healthz',
    '/readyz',
    '/metrics',
    '/openapi.json',
    '/.well-known/jwks.json',
    '/embed.js',
    '/passkeys.js',
    '/vendor/alpine-csp.js',
    '/v1/challenges',
    '/v1/tokens',
    '/v1/tokens/introspect',
    '/v1/me',
    '/v1/credentials',
    '/v1/credentials/00ff',
    '/v1/events',
    '/v1/sessions/current',
    '/v1/email-verification',
    '/v1/recovery',
    '/v1/features',
    '/v1/admin/users',
    '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70',
    '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70/credentials',
    '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70/enrollments',
    '/v1/admin/events',
  ];
  const segment = fc.oneof(
    anyString(12),
    fc.constantFrom(
      '..',
      '.',
      '%',
      '%zz',
      '%E0%A4%A',
      '%C0%AF',
      '%00',
      '%2f',
      '%2e%2e',
      '%25',
      ';',
      '~',
      '*',
      ':id',
      'v1',
      'credentials',
      'tokens',
      'current',
      'admin',
      'users',
      'sessions',
    ),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('hex')),
  );
  const path = fc.oneof(
    fc.constantFrom(...knownPaths),
    fc.tuple(fc.constantFrom(...knownPaths), fc.array(segment, { minLength: 1, maxLength: 3 })).map(([known, rest]) => `${known}/${rest.join('/')}`),
    fc.array(segment, { maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
    fc.tuple(fc.constantFrom(...knownPaths), anyString(20)).map(([known, query]) => `${known}?${query}`),
    fc.constantFrom(...knownPaths).map((known) => known.toUpperCase()),
    // routes with a parameter, which Express decodes before any handler runs
    fc.tuple(fc.constantFrom('/v1/credentials/', '/V1/credentials/', '/v1/sessions/', '/v1/admin/users/'), segment).map(([route, id]) => route + id),
  );

  it('no body, no credentials: never a 5xx, and only POST /v1/tokens (a usernameless start) writes', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), path, async (method, path) => {
        const pathname = new URL(world().service.url + path).pathname; // as fetch will send it
        const before = await dbState(world());
        const reply = await send(world(), { method, path });
        const startsSignIn = method === 'POST' && /^\/v1\/tokens\/?$/i.test(pathname) && reply.status === 200;
        await expectDb(world(), before, startsSignIn ? startsChallenge : nothing, reply.what);
      }),
      { numRuns: 1000 },
    );
  });
});
