// Two instances on one PostgreSQL schema deliver the webhooks of one outbox to one receiver,
// which checks each with the `standardwebhooks` library. The endpoint is registered through
// instance A; after the documented 2 s in which B learns of it, sign-ups and sign-ins are
// spread over both (each started on one instance and finished on the other). Proves that
// every change's event is queued whichever instance made it (the outbox has one row per
// event, with the type and data the API answered) and delivered exactly once: the receiver
// counts as many distinct webhook-ids as deliveries, as many as outbox rows, all 'sent'
// (each instance marking its own). Once with a healthy receiver, with both workers woken
// at once; once after a 503 outage, with both instances claiming the retries as they come due.
// Runs in the "postgres" project only.
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { freshPostgresSchema, type TestDatabase } from '../helpers/database.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const adminKey = 'admin-key-0123456789abcdef';
const people = 20;

/** An event as the changes made it: its type and data. */
type Expected = { type: string; data: Record<string, string> };

interface WebhookRow {
  status: string;
  payload: string;
  attempts: number;
  lease_id: string | null;
}

async function call(service: ServiceProcess, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(service.url + path, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

interface Person {
  email: string;
  authenticator: SoftAuthenticator;
  userId?: string;
  credentialId?: string;
}

/** Started on `here`, finished (and its events queued) on `there`; the events it makes. */
async function signUp(here: ServiceProcess, there: ServiceProcess, person: Person): Promise<Expected[]> {
  const start = await call(here, 'POST', '/v1/challenges', { email: person.email });
  expect(start.status, person.email).toBe(200);
  const finish = await call(there, 'PUT', '/v1/challenges', {
    challengeId: start.body.challengeId,
    registration: await person.authenticator.createCredential(start.body.options),
  });
  expect(finish.status, person.email).toBe(201);
  person.userId = finish.body.userId;
  person.credentialId = finish.body.credential.id;
  return [
    { type: 'user.created', data: { userId: person.userId! } },
    { type: 'passkey.created', data: { userId: person.userId!, credentialId: person.credentialId! } },
  ];
}

/** Started on `here`, finished on `there`; its event, naming the new session (the token's jti). */
async function signIn(here: ServiceProcess, there: ServiceProcess, person: Person): Promise<Expected[]> {
  const start = await call(here, 'POST', '/v1/tokens', { email: person.email });
  expect(start.status, person.email).toBe(200);
  const authentication = await person.authenticator.getAssertion(start.body.options);
  const finish = await call(there, 'PUT', '/v1/tokens', { challengeId: start.body.challengeId, authentication });
  expect(finish.status, person.email).toBe(200);
  const { jti } = JSON.parse(Buffer.from(finish.body.token.split('.')[1], 'base64url').toString());
  return [{ type: 'passkey.used', data: { userId: person.userId!, credentialId: person.credentialId!, sessionId: jti } }];
}

async function webhookRows(database: TestDatabase): Promise<WebhookRow[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query("select status, payload, attempts, lease_id from outbox where topic = 'webhook'")).rows;
  } finally {
    await client.end();
  }
}

/** Polls the table until `check` holds for its rows, or fails after `timeoutMs` saying what it saw. */
async function untilRows(database: TestDatabase, what: string, check: (rows: WebhookRow[]) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await webhookRows(database);
    if (check(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms: ${JSON.stringify(rows.map((row) => [row.status, row.attempts]))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sorted = (events: Expected[]) => events.map(({ type, data }) => JSON.stringify({ type, data })).sort();

/** Lines an instance logged for deliveries of topic 'webhook' it marked sent. */
const webhooksMarked = (service: ServiceProcess) =>
  service
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"delivered"') && line.includes('"topic":"webhook"')).length;

describe('two instances, one outbox, one webhook receiver', () => {
  let database: TestDatabase & { schema: string };
  let receiver: WebhookReceiver;
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeEach(async () => {
    database = await freshPostgresSchema();
    receiver = await startWebhookReceiver();
    // One public URL for both, as instances behind one address must have. LOG_LEVEL=info
    // for the 'delivered' lines; rate limits are not what this is about.
    const env = { DATABASE_URL: database.url, PUBLIC_URL: 'http://localhost:3000', ADMIN_API_KEYS: adminKey, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startProcess(env), startProcess(env)]);
    const registered = await call(a, 'POST', '/v1/admin/webhooks', { url: receiver.url }, { 'x-api-key': adminKey });
    expect(registered.status).toBe(201);
    receiver.secrets = [registered.body.secret];
    // Registered through A; B learns of it within its 2 s refresh (nothing to await: B says nothing when it does).
    await new Promise((resolve) => setTimeout(resolve, 2500));
  }, 60_000);
  afterEach(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await receiver?.close();
    await database?.drop();
  });

  /** All the sign-ups at once, then all the sign-ins, each started on one instance and finished on the other; the events they make. */
  async function burst(): Promise<Expected[]> {
    const everyone: Person[] = Array.from({ length: people }, (_, i) => ({ email: `user-${i}@example.com`, authenticator: new SoftAuthenticator() }));
    const created = await Promise.all(everyone.map((person, i) => signUp(i % 2 ? a : b, i % 2 ? b : a, person)));
    const used = await Promise.all(everyone.map((person, i) => signIn(i % 2 ? b : a, i % 2 ? a : b, person)));
    return [...created.flat(), ...used.flat()];
  }

  /** Every event delivered once: as many distinct webhook-ids as 200s, as many as rows, all sent; the events the API answered. */
  async function expectEachEventOnce(expected: Expected[], rows: WebhookRow[]) {
    expect(rows).toHaveLength(expected.length);
    expect(rows.filter((row) => row.status !== 'sent')).toEqual([]);
    // Every delivery checked with the library (an unverified one is answered 401).
    expect(receiver.deliveries.filter((delivery) => delivery.event === undefined)).toEqual([]);
    // A row is marked sent after the receiver answered 200: every delivery has arrived by now.
    const delivered = receiver.deliveries.filter((delivery) => delivery.status === 200);
    const ids = new Set(delivered.map((delivery) => delivery.id));
    expect(delivered).toHaveLength(rows.length);
    expect(ids.size).toBe(delivered.length);
    expect([...ids].sort()).toEqual(rows.map((row) => (JSON.parse(row.payload) as { id: string }).id).sort());
    expect(sorted(delivered.map((delivery) => delivery.event!))).toEqual(sorted(expected));
    // Each instance marked its own deliveries; together, once per row. (The line is logged
    // after the row was marked: it may take a moment to come through the pipe.)
    await vi.waitFor(() => expect(webhooksMarked(a) + webhooksMarked(b)).toBe(rows.length), { timeout: 5000 });
  }

  it(`${people} sign-ups and ${people} sign-ins across both instances: every event arrives exactly once`, async () => {
    const expected = await burst();
    expect(expected).toHaveLength(3 * people);
    const rows = await untilRows(database, 'every row sent', (all) => all.length === expected.length && all.every((row) => row.status === 'sent'), 20_000);
    await expectEachEventOnce(expected, rows);
    // Nothing failed: one delivery per event, no retry.
    expect(receiver.deliveries).toHaveLength(expected.length);
  }, 60_000);

  it('after a 503 outage, both instances claim the retries as they come due: each event is still delivered once', async () => {
    receiver.failWith = 503;
    const expected = await burst();
    // Every row has been tried (rows of one endpoint go one at a time) and answered 503, and waits, held by no one.
    await untilRows(
      database,
      'every row tried',
      (all) => all.length === expected.length && all.every((row) => row.status === 'pending' && row.attempts >= 1 && row.lease_id === null),
      20_000,
    );
    expect(receiver.events()).toEqual([]);
    receiver.failWith = undefined;
    // The retries come due 3.75 to 6.25 s after each failure (later for a second failure); both instances poll every second.
    const rows = await untilRows(database, 'every row sent', (all) => all.every((row) => row.status === 'sent'), 45_000);
    await expectEachEventOnce(expected, rows);
  }, 90_000);
});
