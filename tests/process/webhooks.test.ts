// Webhooks from the real service process, on a SQLite file, across a SIGKILL. Proves that
// events queued while the receiver answers 503, or while nothing listens at its address,
// are not lost when the process is killed before any of them went through: the restarted
// service delivers every one (each checked with the `standardwebhooks` library, at least
// once per webhook-id, with the type and data of the change that queued it, no event the
// changes did not make), and every webhook row of the outbox ends 'sent'.
// The kill comes while no delivery is in flight (a row claimed at the kill waits out its
// 120 s lease before anyone tries it again; that path is not timed here).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const adminKey = 'admin-key-0123456789abcdef';

interface WebhookRow {
  status: string;
  payload: string;
  attempts: number;
  lease_id: string | null;
  last_error: string | null;
}

/** An event as the changes made it: its type and data. */
type Expected = { type: string; data: Record<string, string> };

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

/** A new account; the events it makes (user.created, passkey.created). */
async function signUp(service: ServiceProcess, person: Person): Promise<Expected[]> {
  const start = await call(service, 'POST', '/v1/challenges', { email: person.email });
  expect(start.status).toBe(200);
  const finish = await call(service, 'PUT', '/v1/challenges', {
    challengeId: start.body.challengeId,
    registration: await person.authenticator.createCredential(start.body.options),
  });
  expect(finish.status).toBe(201);
  person.userId = finish.body.userId;
  person.credentialId = finish.body.credential.id;
  return [
    { type: 'user.created', data: { userId: person.userId! } },
    { type: 'passkey.created', data: { userId: person.userId!, credentialId: person.credentialId! } },
  ];
}

/** A sign-in with the account's passkey; its event (passkey.used, naming the new session: the token's jti). */
async function signIn(service: ServiceProcess, person: Person): Promise<Expected[]> {
  const start = await call(service, 'POST', '/v1/tokens', { email: person.email });
  expect(start.status).toBe(200);
  const authentication = await person.authenticator.getAssertion(start.body.options);
  const finish = await call(service, 'PUT', '/v1/tokens', { challengeId: start.body.challengeId, authentication });
  expect(finish.status).toBe(200);
  const { jti } = JSON.parse(Buffer.from(finish.body.token.split('.')[1], 'base64url').toString());
  return [{ type: 'passkey.used', data: { userId: person.userId!, credentialId: person.credentialId!, sessionId: jti } }];
}

function webhookRows(file: string): WebhookRow[] {
  const db = new SQLite(file, { readonly: true });
  try {
    return db.prepare("select status, payload, attempts, lease_id, last_error from outbox where topic = 'webhook' order by id").all() as WebhookRow[];
  } finally {
    db.close();
  }
}

/** Polls `check` until it returns something truthy (a state of the file), or fails after `timeoutMs`. */
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Tried and failed, waiting for its retry, held by no worker. */
const failedAndWaiting = (row: WebhookRow) => row.status === 'pending' && row.attempts >= 1 && row.lease_id === null && row.last_error !== null;

/**
 * SIGKILLs `service` at a moment no delivery is in flight: frozen first (SIGSTOP), so that
 * what the file says is what the kill leaves; a retry caught mid-way is let finish (SIGCONT)
 * and the next moment tried. Returns the rows the kill left.
 */
async function killBetweenDeliveries(service: ServiceProcess, file: string): Promise<WebhookRow[]> {
  for (let tries = 0; tries < 50; tries++) {
    service.child.kill('SIGSTOP');
    const rows = webhookRows(file);
    if (rows.every(failedAndWaiting)) {
      expect(await service.stop('SIGKILL')).toBe(null);
      return rows;
    }
    service.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('a delivery was in flight at every try');
}

/** Orders events (or their type and data) so that two lists of the same events compare equal. */
const sorted = (events: Expected[]) => events.map(({ type, data }) => JSON.stringify({ type, data })).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

let dir: string;
let database: string;
let receiver: WebhookReceiver;
const running: ServiceProcess[] = [];
const start = async () => {
  // One PUBLIC_URL (the tokens' issuer) across restarts; rate limits are not what this is about.
  const service = await startProcess({ DATABASE_URL: database, PUBLIC_URL: 'http://localhost:3000', ADMIN_API_KEYS: adminKey, RATE_LIMIT_ENABLED: 'false' });
  running.push(service);
  return service;
};
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passkeys-webhooks-'));
  database = join(dir, 'passkeys.db');
  receiver = await startWebhookReceiver();
});
afterEach(async () => {
  for (const service of running.splice(0)) {
    service.child.kill('SIGCONT');
    await service.stop('SIGKILL');
  }
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Registers the receiver through `service` (all types); its secret goes to the receiver. */
async function register(service: ServiceProcess) {
  const reply = await call(service, 'POST', '/v1/admin/webhooks', { url: receiver.url }, { 'x-api-key': adminKey });
  expect(reply.status).toBe(201);
  receiver.secrets = [reply.body.secret];
}

/** Three sign-ups and two sign-ins; the events they make. */
async function changes(service: ServiceProcess): Promise<Expected[]> {
  const people: Person[] = ['alice', 'bob', 'carol'].map((name) => ({ email: `${name}@example.com`, authenticator: new SoftAuthenticator() }));
  const expected: Expected[] = [];
  for (const person of people) expected.push(...(await signUp(service, person)));
  for (const person of people.slice(0, 2)) expected.push(...(await signIn(service, person)));
  return expected;
}

/** After the restart: every event arrived, verified, at least once per webhook-id, and every row is 'sent'. */
async function expectEveryEventDelivered(expected: Expected[]) {
  const rows = await until('every webhook row sent', () => {
    const all = webhookRows(database);
    return all.length === expected.length && all.every((row) => row.status === 'sent') && all;
  });
  // A row is marked sent after the receiver answered 200: what was delivered has arrived.
  const ok = receiver.deliveries.filter((delivery) => delivery.status === 200);
  // Every delivery checked with the library (an unverified one is answered 401).
  expect(receiver.deliveries.filter((delivery) => delivery.event === undefined)).toEqual([]);
  const perId = new Map<string, number>();
  for (const delivery of ok) perId.set(delivery.id, (perId.get(delivery.id) ?? 0) + 1);
  // The events queued, by their webhook-id, all delivered (at least once each) and none other.
  const queuedIds = rows.map((row) => (JSON.parse(row.payload) as { id: string }).id);
  expect(new Set(queuedIds).size).toBe(expected.length);
  expect([...perId.keys()].sort()).toEqual([...queuedIds].sort());
  for (const [id, count] of perId) expect(count, id).toBeGreaterThanOrEqual(1);
  // And they are the changes' events: one of each distinct webhook-id, compared with what the API answered.
  const firstOfEach = [...perId.keys()].map((id) => ok.find((delivery) => delivery.id === id)!.event!);
  expect(sorted(firstOfEach)).toEqual(sorted(expected));
}

describe('webhooks across a SIGKILL', () => {
  it('receiver answering 503 while the events are queued; killed; restarted with the receiver healthy: every event arrives', async () => {
    const first = await start();
    await register(first);
    receiver.failWith = 503;
    const expected = await changes(first);
    expect(expected).toHaveLength(8);
    // Each row was tried (the receiver checked its signature and answered 503) and waits for its retry.
    await until('every row tried once', () => {
      const rows = webhookRows(database);
      return rows.length === expected.length && rows.every(failedAndWaiting);
    });
    const left = await killBetweenDeliveries(first, database);
    expect(left.map((row) => row.last_error)).toEqual(expected.map(() => 'HTTP 503'));
    expect(receiver.events()).toEqual([]);
    expect(receiver.deliveries.length).toBeGreaterThanOrEqual(expected.length);

    receiver.failWith = undefined;
    await start();
    await expectEveryEventDelivered(expected);
  }, 60_000);

  it('nothing listening at the receiver while the events are queued; killed; restarted with it back: every event arrives', async () => {
    const first = await start();
    await register(first);
    const { port, secrets } = receiver;
    await receiver.close();
    const expected = await changes(first);
    await until('every row tried once', () => {
      const rows = webhookRows(database);
      return rows.length === expected.length && rows.every(failedAndWaiting);
    });
    const left = await killBetweenDeliveries(first, database);
    for (const row of left) expect(row.last_error).toContain('ECONNREFUSED');
    expect(receiver.deliveries).toEqual([]);

    // Back at the same address, with the same secret.
    receiver = await startWebhookReceiver({ port });
    receiver.secrets = secrets;
    await start();
    await expectEveryEventDelivered(expected);
  }, 60_000);
});
