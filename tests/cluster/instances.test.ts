// Several instances of the service against one PostgreSQL: any instance finishes
// what another started, verifies what another minted, and honours another's
// revocation. Runs in the "postgres" project only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { freshPostgresSchema, type TestDatabase } from '../helpers/database.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';

const apiKey = 'cluster-api-key-0123456789';

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function count(database: TestDatabase & { schema: string }, table: string) {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return Number((await client.query(`select count(*) from ${table}`)).rows[0].count);
  } finally {
    await client.end();
  }
}

describe('two instances on one PostgreSQL', () => {
  let database: TestDatabase & { schema: string };
  let a: ServiceProcess;
  let b: ServiceProcess;
  const authenticator = new SoftAuthenticator();
  let userId: string;

  beforeAll(async () => {
    database = await freshPostgresSchema();
    // One public URL for both, as every instance behind one address must have: it is the tokens' issuer.
    const env = { DATABASE_URL: database.url, API_KEYS: apiKey, PUBLIC_URL: 'http://localhost:3000' };
    // Started at the same moment against an empty database.
    [a, b] = await Promise.all([startProcess(env), startProcess(env)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('both come up healthy with one set of migrations and one signing key', async () => {
    expect(await count(database, 'signing_keys')).toBe(1);
    expect(await count(database, 'kysely_migration')).toBe(Object.keys(migrations).length);
    const [jwksA, jwksB] = await Promise.all([call(a.url, 'GET', '/.well-known/jwks.json'), call(b.url, 'GET', '/.well-known/jwks.json')]);
    expect(jwksA.body).toEqual(jwksB.body);
  });

  it('a sign-up started on A finishes on B', async () => {
    const start = await call(a.url, 'POST', '/v1/challenges', { email: 'alice@example.com' });
    const registration = await authenticator.createCredential(start.body.options);
    const finish = await call(b.url, 'PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
    expect(finish.status).toBe(201);
    userId = finish.body.userId;
  });

  it("a sign-in started on A finishes on B, and A's token is accepted by B, then revoked by B for A", async () => {
    const start = await call(a.url, 'POST', '/v1/tokens', { email: 'alice@example.com' });
    const authentication = await authenticator.getAssertion(start.body.options);
    const finish = await call(b.url, 'PUT', '/v1/tokens', { challengeId: start.body.challengeId, authentication });
    expect(finish.status).toBe(200);
    expect(finish.body.userId).toBe(userId);

    const other = await call(a.url, 'POST', '/v1/tokens', {});
    const tokenFromA = (
      await call(a.url, 'PUT', '/v1/tokens', { challengeId: other.body.challengeId, authentication: await authenticator.getAssertion(other.body.options) })
    ).body.token;
    const auth = { authorization: `Bearer ${tokenFromA}` };
    expect((await call(b.url, 'GET', '/v1/me', undefined, auth)).body.userId).toBe(userId);
    expect((await call(b.url, 'POST', '/v1/tokens/introspect', { token: tokenFromA }, { 'x-api-key': apiKey })).body.active).toBe(true);

    expect((await call(b.url, 'DELETE', '/v1/sessions/current', undefined, auth)).status).toBe(204);
    expect((await call(a.url, 'GET', '/v1/me', undefined, auth)).status).toBe(401);
    expect((await call(a.url, 'POST', '/v1/tokens/introspect', { token: tokenFromA }, { 'x-api-key': apiKey })).body).toEqual({ active: false });
  });

  it('of concurrent finishes of one challenge split across A and B, exactly one succeeds', async () => {
    const start = await call(a.url, 'POST', '/v1/tokens', { email: 'alice@example.com' });
    const authentication = await authenticator.getAssertion(start.body.options);
    const body = { challengeId: start.body.challengeId, authentication };
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i % 2 ? a.url : b.url, 'PUT', '/v1/tokens', body)));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
  });
});
