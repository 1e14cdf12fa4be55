// A database that cannot take writes (a full disk, an I/O error, a read-only
// database or a standby after a fail-over) answers 503 problem+json, never 500,
// and leaves nothing half-written. What needs no write goes on working: readiness
// stays up (every instance shares the database, so taking this one out of a load
// balancer would help no one), and so do the JWKS and introspection.
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { engine } from '../helpers/database.js';
import { apiKey, bearer, SoftAuthenticator, signUp, startService, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
const metricsToken = 'metrics-token-0123456789';
afterEach(() => service?.close());

/** Makes the service's only connection refuse writes (pool size 1 on PostgreSQL). */
const refuseWrites = (refuse: boolean) =>
  engine === 'sqlite'
    ? sql.raw(`pragma query_only = ${refuse ? 'on' : 'off'}`).execute(service.deps.db)
    : sql.raw(`set default_transaction_read_only = ${refuse ? 'on' : 'off'}`).execute(service.deps.db);

it('a read-only database -> 503 service_unavailable, nothing half-written; reads go on', async () => {
  service = await startService({ DATABASE_POOL_SIZE: '1', METRICS_TOKEN: metricsToken });
  const authenticator = new SoftAuthenticator();
  const { token } = await signUp(service, new SoftAuthenticator(), 'first@example.com');
  const start = await service.request('POST', '/v1/challenges', { email: 'ro@example.com' });
  const registration = await authenticator.createCredential(start.body.options);
  const before = await tableCounts(service.deps);

  await refuseWrites(true);
  const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  expect(finish.status).toBe(503);
  expect(finish.headers.get('content-type')).toContain('application/problem+json');
  expect(finish.body.code).toBe('service_unavailable');
  expect(finish.headers.get('retry-after')).toBe('5');
  const metrics = await service.request('GET', '/metrics', undefined, bearer(metricsToken));
  expect(metrics.body).toContain('passkey_ceremonies_total{kind="registration",step="finish",result="service_unavailable"} 1');

  expect((await service.request('GET', '/readyz')).status).toBe(200);
  expect((await service.request('GET', '/.well-known/jwks.json')).status).toBe(200);
  const introspected = await service.request('POST', '/v1/tokens/introspect', { token }, { 'x-api-key': apiKey });
  expect(introspected.body).toMatchObject({ active: true });
  expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(200);

  await refuseWrites(false);
  expect(await tableCounts(service.deps)).toEqual(before); // the challenge is still there: the finish can be retried
  const retried = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  expect(retried.status).toBe(201);
});

// SQLite only: a database file's size can be capped from its own connection.
if (engine === 'sqlite') {
  it('a full database -> 503 for the sign-up that does not fit; every answered one is kept', async () => {
    service = await startService();
    const { page_count } = (await sql<{ page_count: number }>`pragma page_count`.execute(service.deps.db)).rows[0]!;
    await sql.raw(`pragma max_page_count = ${page_count + 4}`).execute(service.deps.db);

    const answered: string[] = [];
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 500 && !refused; i++) {
      const authenticator = new SoftAuthenticator();
      const email = `full-${i}@example.com`;
      const start = await service.request('POST', '/v1/challenges', { email });
      if (start.status !== 200) {
        refused = start;
        break;
      }
      const registration = await authenticator.createCredential(start.body.options);
      const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
      if (finish.status === 201) answered.push(finish.body.userId);
      else refused = finish;
    }
    expect(refused).toBeDefined();
    expect(refused!.status).toBe(503);
    expect(refused!.body.code).toBe('service_unavailable');

    const users = await service.deps.db.selectFrom('users').select('id').execute();
    expect(users.map((u) => u.id).sort()).toEqual(answered.sort());
    const credentials = await service.deps.db.selectFrom('credentials').select('user_id').execute();
    expect(credentials.map((c) => c.user_id).sort()).toEqual(answered.sort());
  });
}
