// Losing PostgreSQL: requests that need it get 503 problem+json, /readyz turns
// 503 while /healthz stays 200, and the service recovers by itself.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { freshPostgresSchema, type TestDatabase } from '../helpers/database.js';
import { signIn, signUp, SoftAuthenticator, startService, tableCounts, type TestService } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const metricsToken = 'metrics-token-0123456789';

let database: TestDatabase;
let proxy: TcpProxy;
let service: TestService;
beforeEach(async () => {
  database = await freshPostgresSchema();
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  service = await startService({ DATABASE_URL: url.toString(), METRICS_TOKEN: metricsToken });
});
afterEach(async () => {
  await service.close();
  await proxy.close();
  await database.drop();
});

it('answers 503 while the database is unreachable, keeps /healthz up, and recovers by itself', async () => {
  const authenticator = new SoftAuthenticator();
  await signUp(service, authenticator, 'alice@example.com');

  await proxy.cut();
  const start = await service.request('POST', '/v1/tokens', { email: 'alice@example.com' });
  expect(start.status).toBe(503);
  expect(start.body).toMatchObject({ code: 'service_unavailable', status: 503 });
  expect(start.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect((await service.request('GET', '/readyz')).status).toBe(503);
  expect((await service.request('GET', '/healthz')).status).toBe(200);
  // Metrics go on (the outage is when they matter): none of them needs the database.
  const metrics = await service.request('GET', '/metrics', undefined, { authorization: `Bearer ${metricsToken}` });
  expect(metrics.status).toBe(200);
  expect(metrics.body).toContain('http_requests_total{method="POST",route="/v1/tokens",status="503"} 1');
  const signUpDuringOutage = await service.request('POST', '/v1/challenges', { email: 'bob@example.com' });
  expect(signUpDuringOutage.status).toBe(503);

  await proxy.restore();
  expect((await service.request('GET', '/readyz')).status).toBe(200);
  expect((await signIn(service, authenticator, 'alice@example.com')).status).toBe(200);
  expect(await tableCounts(service.deps)).toMatchObject({ users: 1, credentials: 1, sessions: 2 });
});

it('answers 503 when the database stops answering (the connection stays open), and never hangs', async () => {
  const authenticator = new SoftAuthenticator();
  await signUp(service, authenticator, 'alice@example.com');
  proxy.stall();
  const start = await service.request('POST', '/v1/tokens', { email: 'alice@example.com' });
  expect(start.status).toBe(503);
  expect(start.body).toMatchObject({ code: 'service_unavailable' });
  await proxy.cut(); // lets the pool close its stalled connections
});
