// A fresh service per test: in-memory SQLite, migrated, a fixed clock the test
// can move, listening on a random port so tests go through real HTTP.
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { createApp } from '../../server/app.js';
import { createServer } from '../../server/http/server.js';
import { closeDeps, openDeps } from '../../server/bootstrap.js';
import { startDelivery } from '../../server/delivery.js';
import { createMetrics } from '../../server/http/metrics.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { Deps } from '../../server/deps.js';
import { SoftAuthenticator } from './authenticator.js';
import { freshDatabase } from './database.js';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestService {
  url: string;
  deps: Deps;
  clock: { now: Date; advance(seconds: number): void };
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
  close(): Promise<void>;
}

export const testEnv = { LOG_LEVEL: 'silent', API_KEYS: 'test-api-key-0123456789', RATE_LIMIT_ENABLED: 'false' };
export const apiKey = testEnv.API_KEYS;

export async function startService(env: Record<string, string> = {}, overrides: Partial<Config> = {}, options: { log?: Logger } = {}): Promise<TestService> {
  // A database of its own, unless the test brings one (to restart on it).
  const database = env.DATABASE_URL ? undefined : await freshDatabase();
  const config = { ...loadConfig({ ...testEnv, DATABASE_URL: database?.url, ...env }), ...overrides };
  const clock = {
    now: new Date('2026-03-01T12:00:00.000Z'),
    advance(seconds: number) {
      this.now = new Date(this.now.getTime() + seconds * 1000);
    },
  };
  const deps = await openDeps(config, options.log ?? pino({ level: config.logLevel }), () => clock.now);
  const metrics = createMetrics(deps);
  // Emails go out as in production; the poll is quick so that a retry made due by moving the clock goes soon.
  const delivery = startDelivery(deps, { pollMs: 50, onResult: metrics.outboxResult, onWebhookAttempt: metrics.webhookAttempt });
  const server = createServer(createApp(deps, metrics), config.connections).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const response = await fetch(url + path, init);
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return { status: response.status, headers: response.headers, body: type.includes('json') && text ? JSON.parse(text) : text };
  }

  return {
    url,
    deps,
    clock,
    request,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await delivery.stop();
      await closeDeps(deps);
      await database?.drop();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Sign-up from start to finish; returns the 201 body. */
export async function signUp(service: TestService, authenticator: SoftAuthenticator, email: string) {
  const start = await service.request('POST', '/v1/challenges', { email });
  if (start.status !== 200) throw new Error(`sign-up start: ${start.status} ${JSON.stringify(start.body)}`);
  const registration = await authenticator.createCredential(start.body.options);
  const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  if (finish.status !== 201) throw new Error(`sign-up finish: ${finish.status} ${JSON.stringify(finish.body)}`);
  return finish.body as { userId: string; token: string; expiresAt: string; credential: any };
}

/** Starts a sign-in (by email, or usernameless without one). */
export async function startSignIn(service: TestService, email?: string) {
  const start = await service.request('POST', '/v1/tokens', email === undefined ? {} : { email });
  if (start.status !== 200) throw new Error(`sign-in start: ${start.status} ${JSON.stringify(start.body)}`);
  return start.body as { challengeId: string; options: any };
}

export async function signIn(service: TestService, authenticator: SoftAuthenticator, email?: string) {
  const { challengeId, options } = await startSignIn(service, email);
  const authentication = await authenticator.getAssertion(options);
  return service.request('PUT', '/v1/tokens', { challengeId, authentication });
}

/**
 * Row counts of every table that holds state, to show a rejected request wrote
 * nothing: no email code, enrolment ticket or email queued in the outbox either. The audit trail
 * is left out on purpose: it records failures too.
 */
const stateTables = [
  'users',
  'credentials',
  'challenges',
  'sessions',
  'signing_keys',
  'server_secrets',
  'email_codes',
  'outbox',
  'enrollment_tickets',
] as const;
type Table = (typeof stateTables)[number];

export async function tableCounts(deps: Deps): Promise<Record<Table, number>> {
  const counts = {} as Record<Table, number>;
  for (const table of stateTables) {
    const row = await deps.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

export { SoftAuthenticator };

/** The account's audit trail, oldest first, as stored. */
export function auditTrail(deps: Deps, userId?: string) {
  let query = deps.db.selectFrom('audit_events').selectAll().orderBy('created_at').orderBy('type');
  if (userId) query = query.where('user_id', '=', userId);
  return query.execute();
}
