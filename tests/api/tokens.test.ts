import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, base64url } from 'jose';
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/database.js';
import { apiKey, bearer, signIn, signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

let service: TestService;
let token: string;
let userId: string;
beforeEach(async () => {
  service = await startService();
  ({ token, userId } = await signUp(service, new SoftAuthenticator(), 'alice@example.com'));
});
afterEach(() => service.close());

const introspect = (value: string, key: string | null = apiKey) =>
  service.request('POST', '/v1/tokens/introspect', { token: value }, key === null ? {} : { 'x-api-key': key });
const me = (value: string) => service.request('GET', '/v1/me', undefined, bearer(value));

async function expectRejected(value: string) {
  const reply = await me(value);
  expect(reply.status).toBe(401);
  expect(reply.body.code).toBe('unauthorized');
  expect(reply.headers.get('www-authenticate')).toBe('Bearer');
  expect((await introspect(value)).body).toEqual({ active: false });
}

const segments = (jwt: string) => jwt.split('.') as [string, string, string];
const encode = (value: object) => base64url.encode(JSON.stringify(value));

describe('session tokens', () => {
  it('are ES256 JWTs of type session+jwt with kid, iss, aud, sub, email, email_verified, auth_time, iat, exp, jti that verify offline against the JWKS', async () => {
    const jwks = await service.request('GET', '/.well-known/jwks.json');
    expect(jwks.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.body.keys[0].d).toBeUndefined();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
      issuer: 'http://localhost:3000',
      audience: 'localhost',
      typ: 'session+jwt',
      currentDate: service.clock.now,
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: jwks.body.keys[0].kid, typ: 'session+jwt' });
    expect(payload).toEqual({
      iss: 'http://localhost:3000',
      aud: 'localhost',
      sub: userId,
      email: 'alice@example.com',
      email_verified: false,
      auth_time: service.clock.now.getTime() / 1000,
      iat: service.clock.now.getTime() / 1000,
      exp: service.clock.now.getTime() / 1000 + 3600,
      jti: expect.any(String),
    });
  });

  it('honour TOKEN_ISSUER, TOKEN_AUDIENCE and SESSION_TTL_SECONDS', async () => {
    const custom = await startService({ TOKEN_ISSUER: 'https://auth.example', TOKEN_AUDIENCE: 'shop', SESSION_TTL_SECONDS: '600' });
    try {
      const result = await signUp(custom, new SoftAuthenticator(), 'bob@example.com');
      expect(decodeJwt(result.token)).toMatchObject({ iss: 'https://auth.example', aud: 'shop', exp: custom.clock.now.getTime() / 1000 + 600 });
      expect(result.expiresAt).toBe(new Date(custom.clock.now.getTime() + 600_000).toISOString());
    } finally {
      await custom.close();
    }
  });

  it('introspect as active with their claims, with Cache-Control: no-store', async () => {
    const reply = await introspect(token);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.body).toEqual({ active: true, ...decodeJwt(token) });
  });

  it('survive a restart: the signing key is kept in the database', async () => {
    const database = await freshDatabase({ persistent: true });
    try {
      const env = { DATABASE_URL: database.url };
      const first = await startService(env);
      const { token: saved } = await signUp(first, new SoftAuthenticator(), 'carol@example.com');
      await first.close();
      const second = await startService(env);
      try {
        expect((await second.request('GET', '/v1/me', undefined, bearer(saved))).status).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('forged and dead tokens are rejected by /v1/me and inactive in introspection', () => {
  it('alg: none', async () => {
    const [, payload] = segments(token);
    await expectRejected(`${encode({ ...decodeProtectedHeader(token), alg: 'none' })}.${payload}.`);
  });

  it('HS256 keyed with the public key', async () => {
    const jwks = (await service.request('GET', '/.well-known/jwks.json')).body;
    const [, payload] = segments(token);
    const header = encode({ alg: 'HS256', typ: 'JWT', kid: jwks.keys[0].kid });
    const signature = createHmac('sha256', JSON.stringify(jwks.keys[0])).update(`${header}.${payload}`).digest('base64url');
    await expectRejected(`${header}.${payload}.${signature}`);
  });

  it('signed by a foreign key with the same kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader(decodeProtectedHeader(token) as { alg: string }).sign(privateKey);
    await expectRejected(forged);
  });

  it("signed by the service's own key but of another type, or without auth_time", async () => {
    const { privateKey, kid } = service.deps.keys;
    const claims = decodeJwt(token);
    const { auth_time: _omitted, ...withoutAuthTime } = claims;
    for (const [payload, typ] of [
      [claims, 'JWT'],
      [claims, 'at+jwt'],
      [claims, undefined],
      [withoutAuthTime, 'session+jwt'],
    ] as const) {
      const header = { alg: 'ES256', kid, ...(typ ? { typ } : {}) };
      await expectRejected(await new SignJWT(payload).setProtectedHeader(header).sign(privateKey));
    }
    // The control: the same key and claims with the right type pass.
    expect((await me(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'session+jwt' }).sign(privateKey))).status).toBe(200);
  });

  it('a changed payload', async () => {
    const [header, , signature] = segments(token);
    await expectRejected(`${header}.${encode({ ...decodeJwt(token), sub: 'someone-else' })}.${signature}`);
  });

  it('expired', async () => {
    service.clock.advance(3601);
    await expectRejected(token);
  });

  it('revoked (signed out)', async () => {
    expect((await service.request('DELETE', '/v1/sessions/current', undefined, bearer(token))).status).toBe(204);
    await expectRejected(token);
    const row = await service.deps.db.selectFrom('sessions').selectAll().executeTakeFirstOrThrow();
    expect(row.revoked_at).toBe(service.clock.now.toISOString());
  });

  it('from another deployment (a foreign JWKS key)', async () => {
    const other = await startService();
    try {
      const foreign = await signUp(other, new SoftAuthenticator(), 'alice@example.com');
      await expectRejected(foreign.token);
    } finally {
      await other.close();
    }
  });

  it('garbage, and a malformed Authorization header', async () => {
    await expectRejected('not-a-jwt');
    const reply = await service.request('GET', '/v1/me', undefined, { authorization: 'Basic abc' });
    expect(reply.status).toBe(401);
    expect((await service.request('GET', '/v1/me')).status).toBe(401);
  });
});

describe('signing out', () => {
  it('revokes only the presented session', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'dave@example.com');
    const first = (await signIn(service, authenticator)).body.token;
    const second = (await signIn(service, authenticator)).body.token;
    expect((await service.request('DELETE', '/v1/sessions/current', undefined, bearer(first))).status).toBe(204);
    expect((await me(first)).status).toBe(401);
    expect((await me(second)).status).toBe(200);
  });
});

describe('introspection needs an API key', () => {
  it('missing -> 401 unauthorized', async () => {
    const reply = await introspect(token, null);
    expect(reply.status).toBe(401);
    expect(reply.body.code).toBe('unauthorized');
  });

  it('wrong, or a prefix of the right one -> 401 unauthorized', async () => {
    expect((await introspect(token, 'wrong-api-key-0123456789')).status).toBe(401);
    expect((await introspect(token, apiKey.slice(0, -1))).status).toBe(401);
  });

  it('with no API_KEYS configured, nothing is accepted', async () => {
    const closed = await startService({ API_KEYS: '' });
    try {
      const reply = await closed.request('POST', '/v1/tokens/introspect', { token }, { 'x-api-key': '' });
      expect(reply.status).toBe(401);
    } finally {
      await closed.close();
    }
  });

  it('any of several configured keys works', async () => {
    const multi = await startService({ API_KEYS: 'first-key-0123456789abc, second-key-0123456789abc' });
    try {
      const reply = await multi.request('POST', '/v1/tokens/introspect', { token: 'x' }, { 'x-api-key': 'second-key-0123456789abc' });
      expect(reply.body).toEqual({ active: false });
    } finally {
      await multi.close();
    }
  });
});
