// Two instances on one PostgreSQL schema send the emails of one outbox through one
// SMTP server. Proves that every email a request queued is sent exactly once (counted
// per recipient at the SMTP server) and every outbox row ends 'sent' with its payload
// erased: with both workers woken at once by concurrent sign-ups and recovery starts,
// and with both claiming the same rows as their retries come due after an SMTP outage.
// Runs in the "postgres" project only.
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { freshPostgresSchema, type TestDatabase } from '../helpers/database.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const signUps = 20;

async function call(service: ServiceProcess, method: string, path: string, body: unknown) {
  const response = await fetch(service.url + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** Started on one instance, finished (and its email queued) on the other. */
async function signUp(here: ServiceProcess, there: ServiceProcess, email: string) {
  const authenticator = new SoftAuthenticator();
  const start = await call(here, 'POST', '/v1/challenges', { email });
  const finish = await call(there, 'PUT', '/v1/challenges', {
    challengeId: start.body.challengeId,
    registration: await authenticator.createCredential(start.body.options),
  });
  expect(finish.status, email).toBe(201);
}

async function outbox(database: TestDatabase): Promise<{ status: string; payload: string; attempts: number; lease_id: string | null }[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query('select status, payload, attempts, lease_id from outbox')).rows;
  } finally {
    await client.end();
  }
}

/** Waits until `expected` rows are all 'sent' (or fails after `timeoutMs`), polling the table. */
async function allSent(database: TestDatabase, expected: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await outbox(database);
    if (rows.length === expected && rows.every((row) => row.status === 'sent')) return rows;
    if (Date.now() > deadline) throw new Error(`outbox after ${timeoutMs} ms: ${JSON.stringify(rows.map((row) => row.status))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('two instances, one outbox, one SMTP server', () => {
  let database: TestDatabase & { schema: string };
  let smtp: TestSmtp;
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeEach(async () => {
    database = await freshPostgresSchema();
    smtp = await startSmtp();
    // One public URL for both, as instances behind one address must have. LOG_LEVEL=info for the 'delivered' lines.
    const env = { DATABASE_URL: database.url, PUBLIC_URL: 'http://localhost:3000', SMTP_URL: smtp.url, LOG_LEVEL: 'info' };
    [a, b] = await Promise.all([startProcess(env), startProcess(env)]);
  }, 60_000);
  afterEach(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await smtp?.close();
    await database?.drop();
  });

  /** The sign-ups and recovery starts, all at once, spread over both instances; the emails each address must get. */
  async function burst(): Promise<Map<string, number>> {
    const expected = new Map<string, number>();
    const users = Array.from({ length: signUps }, (_, i) => `user-${i}@example.com`);
    await Promise.all(users.map((email, i) => signUp(i % 2 ? a : b, i % 2 ? b : a, email)));
    for (const email of users) expected.set(email, 1);
    // Recovery: a code to three accounts, a "no account" note to two strangers.
    const recoveries = ['user-0@example.com', 'user-1@example.com', 'user-2@example.com', 'stranger-0@example.com', 'stranger-1@example.com'];
    const replies = await Promise.all(recoveries.map((email, i) => call(i % 2 ? a : b, 'POST', '/v1/recovery', { email })));
    expect(replies.map((reply) => reply.status)).toEqual(recoveries.map(() => 202));
    for (const email of recoveries) expected.set(email, (expected.get(email) ?? 0) + 1);
    return expected;
  }

  function expectEachEmailOnce(expected: Map<string, number>, rows: { status: string; payload: string }[]) {
    const total = [...expected.values()].reduce((sum, n) => sum + n, 0);
    // Each row was sent and its payload erased; a row is marked sent after its SMTP
    // server took the email, so every email is in `received` by now.
    expect(rows).toHaveLength(total);
    expect(rows.filter((row) => row.status !== 'sent' || row.payload !== '')).toEqual([]);
    const counts = Object.fromEntries([...expected.keys()].map((email) => [email, smtp.to(email).length]));
    expect(counts).toEqual(Object.fromEntries(expected));
    expect(smtp.received).toHaveLength(total);
    for (const [email] of expected) {
      const [first, second] = smtp.to(email);
      if (email.startsWith('stranger-')) {
        expect(first!.code, email).toBeUndefined();
      } else {
        expect(first!.code, email).toMatch(/^\d{6}$/);
        if (second) expect(second.code, email).toMatch(/^\d{6}$/);
      }
    }
    // Each instance marked its own deliveries; together, once per row.
    const delivered = (service: ServiceProcess) => service.output().split('"msg":"delivered"').length - 1;
    expect(delivered(a) + delivered(b)).toBe(total);
  }

  it(`${signUps} sign-ups and 5 recovery starts across both instances: every email arrives exactly once`, async () => {
    const expected = await burst();
    const rows = await allSent(database, 25, 20_000);
    expectEachEmailOnce(expected, rows);
  }, 60_000);

  it('after an SMTP outage, both instances claim the retries as they come due: each email is still sent once', async () => {
    smtp.refusing = true;
    const expected = await burst();
    // Every row has failed its first try (the instance that queued it tried at once) and waits, held by no one.
    const failedOnce = (rows: Awaited<ReturnType<typeof outbox>>) =>
      rows.length === 25 && rows.every((row) => row.status === 'pending' && row.attempts >= 1 && row.lease_id === null);
    const deadline = Date.now() + 15_000;
    while (!failedOnce(await outbox(database))) {
      if (Date.now() > deadline) throw new Error('the first tries did not all fail');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(smtp.received).toEqual([]);
    smtp.refusing = false;
    // The retries come due 3.75 to 6.25 s after each failure; both instances poll every second.
    const rows = await allSent(database, 25, 30_000);
    expectEachEmailOnce(expected, rows);
  }, 60_000);
});
