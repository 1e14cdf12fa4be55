import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.js';
import { createServer } from '../../server/http/server.js';
import { bearer, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

const statusOf = (url: string, headers: Record<string, string>) =>
  new Promise<number>((resolve, reject) => get(url, { headers }, (res) => resolve((res.resume(), res.statusCode!))).on('error', reject));

let service: TestService;
beforeEach(async () => (service = await startService({ ORIGINS: 'http://localhost:3000,http://app.localhost:8080' })));
afterEach(() => service.close());

describe('security headers', () => {
  it('helmet is on and X-Powered-By is off', async () => {
    const reply = await service.request('GET', '/healthz');
    expect(reply.headers.get('x-powered-by')).toBeNull();
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    expect(reply.headers.get('content-security-policy')).toContain("object-src 'none'");
  });
});

describe('the HTTP server', () => {
  // Express gives each request and response its app's prototype; when they already
  // have it, that changes nothing and V8's caches for them hold (server/http/server.ts).
  it("makes requests and responses with the app's prototypes, which Express then keeps", async () => {
    const app = createApp(service.deps);
    const server = createServer(app, service.deps.config.connections).listen(0, '127.0.0.1');
    const seen: boolean[] = [];
    server.prependListener('request', (req, res) => seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response));
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@example.com' }),
      });
      expect(response.status).toBe(200);
      expect((await response.json()).options.challenge).toEqual(expect.any(String));
      expect(seen).toEqual([true, true]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('CORS', () => {
  it('answers a configured origin exactly, with Vary: Origin', async () => {
    const reply = await service.request('POST', '/v1/tokens', {}, { origin: 'http://app.localhost:8080' });
    expect(reply.headers.get('access-control-allow-origin')).toBe('http://app.localhost:8080');
    expect(reply.headers.get('vary')).toMatch(/Origin/);
    // A 429's Retry-After is readable there too.
    expect(reply.headers.get('access-control-expose-headers')).toBe('Retry-After');
  });

  it('gives nothing to an origin that is not configured, nor to a look-alike', async () => {
    for (const origin of ['https://evil.example', 'http://app.localhost:8080.evil.example', 'http://localhost:3001']) {
      const reply = await service.request('POST', '/v1/tokens', {}, { origin });
      expect(reply.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('answers a preflight for a configured origin', async () => {
    const response = await fetch(`${service.url}/v1/credentials/ab`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });
});

describe('health', () => {
  it('/healthz and /readyz answer 200 while the database answers', async () => {
    expect((await service.request('GET', '/healthz')).status).toBe(200);
    expect((await service.request('GET', '/readyz')).status).toBe(200);
  });

  it('/readyz answers 503 service_unavailable when the database is gone, /healthz stays 200', async () => {
    await service.deps.db.destroy();
    const ready = await service.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.code).toBe('service_unavailable');
    expect((await service.request('GET', '/healthz')).status).toBe(200);
  });
});

describe('/embed.js', () => {
  it('is one strict-mode function, so nothing of it becomes a global of the embedding page', async () => {
    const source = await (await fetch(`${service.url}/embed.js`)).text();
    expect(source.startsWith("(() => {\n'use strict';\n")).toBe(true);
    expect(source.trimEnd().endsWith('})();')).toBe(true);
  });
});

describe('caching', () => {
  it('scripts and the page carry an ETag and answer 304 when it matches; API answers carry none', async () => {
    for (const path of ['/embed.js', '/vendor/simplewebauthn-browser.js', '/vendor/alpine-csp.js', '/', '/demo.js']) {
      const first = await fetch(`${service.url}${path}`);
      const tag = first.headers.get('etag');
      expect(tag, path).toMatch(/^(W\/)?"[^"]+"$/);
      // Not fetch: it adds Cache-Control: no-cache to a conditional request, as browsers' reloads do.
      expect(await statusOf(`${service.url}${path}`, { 'if-none-match': tag! }), path).toBe(304);
    }
    const api = await service.request('POST', '/v1/tokens', {});
    expect(api.headers.get('etag')).toBeNull();
  });

  it('every /v1 answer carries Cache-Control: no-store: successes, problems, unknown routes and 429s', async () => {
    const { token } = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const answers = [
      await service.request('POST', '/v1/tokens', { email: 'alice@example.com' }),
      await service.request('POST', '/v1/challenges', { email: 'bob@example.com' }),
      await service.request('GET', '/v1/me', undefined, bearer(token)),
      await service.request('GET', '/v1/credentials', undefined, bearer(token)),
      await service.request('GET', '/v1/events', undefined, bearer(token)),
      await service.request('GET', '/v1/me'),
      await service.request('POST', '/v1/tokens', { email: 'not an email' }),
      await service.request('GET', '/v1/challenges'),
      await service.request('GET', '/v1/nothing-here'),
      await service.request('GET', '/V1/ME', undefined, bearer(token)),
    ];
    expect(answers.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200, 401, 400, 405, 404, 200]);
    for (const reply of answers) expect(reply.headers.get('cache-control')).toBe('no-store');

    const limited = await startService({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_ACCOUNT_PER_IP: '1' });
    try {
      await limited.request('GET', '/v1/me');
      const reply = await limited.request('GET', '/v1/me');
      expect(reply.status).toBe(429);
      expect(reply.headers.get('cache-control')).toBe('no-store');
    } finally {
      await limited.close();
    }
  });

  it('the JWKS and the pages keep caching of their own', async () => {
    expect((await service.request('GET', '/.well-known/jwks.json')).headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect((await service.request('GET', '/embed.js')).headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    expect((await service.request('GET', '/')).headers.get('cache-control')).toBe('no-cache');
  });
});
