// Bad input of any kind gets a 4xx problem+json with a stable code, and the
// database is exactly as it was before.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiKey, auditTrail, bearer, signUp, SoftAuthenticator, startService, startSignIn, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
let token: string;
let authenticator: SoftAuthenticator;
let before: Record<string, number>;
beforeEach(async () => {
  service = await startService();
  authenticator = new SoftAuthenticator();
  ({ token } = await signUp(service, authenticator, 'alice@example.com'));
  before = await tableCounts(service.deps);
});
afterEach(() => service.close());

async function expectProblem(reply: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body).toMatchObject({ type: 'about:blank', status, code, title: expect.any(String), detail: expect.any(String) });
}

const apiKeyFor = (path: string): Record<string, string> => (path.endsWith('introspect') ? { 'x-api-key': apiKey } : {});

const writes = [
  ['POST', '/v1/challenges'],
  ['PUT', '/v1/challenges'],
  ['POST', '/v1/tokens'],
  ['PUT', '/v1/tokens'],
  ['POST', '/v1/tokens/introspect'],
] as const;

describe('malformed requests', () => {
  for (const [method, path] of writes) {
    it(`${method} ${path} with malformed JSON -> 400 invalid_json`, async () => {
      await expectProblem(await service.request(method, path, '{"email": '), 400, 'invalid_json');
      expect(await tableCounts(service.deps)).toEqual(before);
    });

    it(`${method} ${path} with a non-JSON content type -> 415 unsupported_media_type`, async () => {
      await expectProblem(
        await service.request(method, path, 'email=a@b.c', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        'unsupported_media_type',
      );
      expect(await tableCounts(service.deps)).toEqual(before);
    });

    it(`${method} ${path} with a body over 64 kB -> 413 payload_too_large`, async () => {
      await expectProblem(await service.request(method, path, { email: 'a'.repeat(70_000) }), 413, 'payload_too_large');
      expect(await tableCounts(service.deps)).toEqual(before);
    });

    it(`${method} ${path} with a JSON array or string body -> 400 invalid_request`, async () => {
      await expectProblem(await service.request(method, path, [], apiKeyFor(path)), 400, 'invalid_request');
      await expectProblem(await service.request(method, path, '"text"'), 400, 'invalid_json');
      expect(await tableCounts(service.deps)).toEqual(before);
    });
  }
});

describe('wrongly typed fields', () => {
  const bodies: [string, string, unknown][] = [
    ['POST', '/v1/challenges', { email: 42 }],
    ['POST', '/v1/challenges', { email: 'not an email' }],
    ['POST', '/v1/challenges', { email: 'bob@example.com', displayName: { a: 1 } }],
    ['POST', '/v1/challenges', { email: `${'x'.repeat(250)}@example.com` }],
    ['PUT', '/v1/challenges', { challengeId: 'x' }],
    ['PUT', '/v1/challenges', { challengeId: 'x', registration: { id: 'abc', rawId: 'abc', type: 'public-key', response: {} } }],
    ['PUT', '/v1/challenges', { challengeId: ['x'], registration: null }],
    ['POST', '/v1/tokens', { email: null }],
    ['PUT', '/v1/tokens', { challengeId: 'x', authentication: 'nope' }],
    ['PUT', '/v1/tokens', { challengeId: 'x', authentication: { id: '***', rawId: '***', type: 'public-key', response: {}, clientExtensionResults: {} } }],
    ['POST', '/v1/tokens/introspect', { token: 7 }],
  ];
  for (const [method, path, body] of bodies) {
    it(`${method} ${path} ${JSON.stringify(body).slice(0, 60)} -> 400 invalid_request`, async () => {
      await expectProblem(await service.request(method, path, body, apiKeyFor(path)), 400, 'invalid_request');
      expect(await tableCounts(service.deps)).toEqual(before);
    });
  }

  it('PATCH /v1/credentials/:id with a numeric name -> 400 invalid_request', async () => {
    const reply = await service.request('PATCH', `/v1/credentials/${authenticator.credentials[0]!.idHex}`, { name: 5 }, bearer(token));
    await expectProblem(reply, 400, 'invalid_request');
  });
});

describe('emails', () => {
  // RFC 5321: a local part is at most 64 octets.
  for (const [method, path] of [
    ['POST', '/v1/challenges'],
    ['POST', '/v1/tokens'],
  ] as const) {
    it(`${method} ${path} with a local part over 64 octets -> 400 invalid_request, nothing stored`, async () => {
      await expectProblem(await service.request(method, path, { email: `${'a'.repeat(65)}@example.com` }), 400, 'invalid_request');
      expect(await tableCounts(service.deps)).toEqual(before);
      expect((await service.request(method, path, { email: `${'a'.repeat(64)}@example.com` })).status).toBe(200);
    });
  }
});

describe('garbage inside well-formed requests', () => {
  it('random bytes as the attestation object (garbage CBOR) -> 400 registration_failed, nothing stored', async () => {
    const start = (await service.request('POST', '/v1/challenges', { email: 'bob@example.com' })).body;
    const registration = await new SoftAuthenticator().createCredential(start.options);
    registration.response.attestationObject = Buffer.from('\xa3\x63fmt\x64none garbage', 'latin1').toString('base64url');
    await expectProblem(await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration }), 400, 'registration_failed');
    expect(await tableCounts(service.deps)).toEqual(before);
  });

  it('truncated authenticator data in an assertion -> 401 authentication_failed, nothing changed', async () => {
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await authenticator.getAssertion(options);
    authentication.response.authenticatorData = authentication.response.authenticatorData.slice(0, 20);
    await expectProblem(await service.request('PUT', '/v1/tokens', { challengeId, authentication }), 401, 'authentication_failed');
    expect(await tableCounts(service.deps)).toEqual(before);
    // Recorded off the answer's path: the row comes shortly after the 401.
    await vi.waitFor(async () =>
      expect((await auditTrail(service.deps)).at(-1)).toMatchObject({ type: 'sign_in.failed', credential_id: authenticator.credentials[0]!.idHex }),
    );
  });

  it('clientDataJSON that is not JSON -> 401 authentication_failed', async () => {
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await authenticator.getAssertion(options);
    authentication.response.clientDataJSON = Buffer.from('{not json').toString('base64url');
    await expectProblem(await service.request('PUT', '/v1/tokens', { challengeId, authentication }), 401, 'authentication_failed');
  });
});

describe('routes and methods', () => {
  it('a method the HTTP parser does not know -> 400 problem+json', async () => {
    const { connect } = await import('node:net');
    const url = new URL(service.url);
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write('FOO /v1/me HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
    });
    expect(raw).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    expect(raw).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(raw.split('\r\n\r\n')[1]!)).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('an unknown route -> 404 not_found', async () => {
    await expectProblem(await service.request('GET', '/v1/nothing-here'), 404, 'not_found');
  });

  it('a wrong method -> 405 method_not_allowed with Allow', async () => {
    const reply = await service.request('GET', '/v1/challenges');
    await expectProblem(reply, 405, 'method_not_allowed');
    expect(reply.headers.get('allow')).toBe('POST, PUT');
    expect((await service.request('POST', '/v1/me', {})).headers.get('allow')).toBe('GET, HEAD');
  });
});
