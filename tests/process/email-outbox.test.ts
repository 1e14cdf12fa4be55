// Emails from the real service process to a real SMTP server, on a SQLite file.
// Proves: a sign-up acknowledged while SMTP is down gets its verification email
// after a SIGKILL and a restart (the outbox row is durable, then 'sent' with its
// payload erased); a single process retries until SMTP is back and sends it once;
// codes stay out of the log when SMTP_URL is set, and are printed there (with a
// start-up line saying so) without it on localhost, at the default level and at
// warn; a public RP ID without SMTP_URL refuses to start unless EMAIL_DELIVERY=log;
// SMTP with a login and with STARTTLS delivers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { freePort, startProcess, type ServiceProcess } from '../helpers/process.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

interface OutboxRow {
  status: string;
  payload: string;
  attempts: number;
  lease_id: string | null;
  last_error: string | null;
}

async function call(service: ServiceProcess, method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(service.url + path, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A new account for `email`; its session token. */
async function signUp(service: ServiceProcess, email: string): Promise<string> {
  const authenticator = new SoftAuthenticator();
  const start = await call(service, 'POST', '/v1/challenges', { email });
  expect(start.status).toBe(200);
  const finish = await call(service, 'PUT', '/v1/challenges', {
    challengeId: start.body.challengeId,
    registration: await authenticator.createCredential(start.body.options),
  });
  expect(finish.status).toBe(201);
  return finish.body.token;
}

/** Proves the account's email with `code`: 200 only if it is the code the service issued. */
async function verifyEmail(service: ServiceProcess, token: string, code: string) {
  return call(service, 'PUT', '/v1/email-verification', { code }, { authorization: `Bearer ${token}` });
}

function outboxRows(file: string): OutboxRow[] {
  const db = new SQLite(file, { readonly: true });
  try {
    return db.prepare('select status, payload, attempts, lease_id, last_error from outbox order by created_at').all() as OutboxRow[];
  } finally {
    db.close();
  }
}

/** Polls `check` until it returns something truthy (an event in a file or a log), or fails after `timeoutMs`. */
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A failed try settled: the row is pending again, with its error, and no worker holds it. */
const failedOnce = (row: OutboxRow | undefined) =>
  row !== undefined && row.status === 'pending' && row.attempts >= 1 && row.lease_id === null && row.last_error !== null;

/** The code as a run of its own: a timestamp that happens to contain its digits does not count. */
const containsCode = (text: string, code: string) => new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text);

let dir: string;
let database: string;
let smtp: TestSmtp;
const running: ServiceProcess[] = [];
const start = async (env: Record<string, string>) => {
  // One PUBLIC_URL (the tokens' issuer) across restarts, whatever port each start gets.
  const service = await startProcess({ DATABASE_URL: database, PUBLIC_URL: 'http://localhost:3000', ...env });
  running.push(service);
  return service;
};
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passkeys-email-'));
  database = join(dir, 'passkeys.db');
  smtp = await startSmtp();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop('SIGKILL')));
  await smtp.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the outbox across a crash and an outage', () => {
  it('SIGKILL after an acknowledged sign-up, before its email went out: the restarted service sends it', async () => {
    smtp.refusing = true;
    const first = await start({ SMTP_URL: smtp.url });
    const token = await signUp(first, 'alice@example.com');
    // The first try met the 421; the row waits for its retry, held by no worker.
    const [row] = await until('the first failed try', () => {
      const rows = outboxRows(database);
      return failedOnce(rows[0]) && rows;
    });
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row!.last_error).toContain('421');
    expect(JSON.parse(row!.payload).to).toBe('alice@example.com');
    expect(await first.stop('SIGKILL')).toBe(null);

    smtp.refusing = false;
    const second = await start({ SMTP_URL: smtp.url });
    const email = await smtp.waitFor('alice@example.com', { timeoutMs: 15_000 });
    expect(email.subject).toContain('Confirm your email address');
    expect(email.code).toMatch(/^\d{6}$/);
    const [sent] = await until('the row marked sent', () => {
      const rows = outboxRows(database);
      return rows[0]?.status === 'sent' && rows;
    });
    expect(sent).toMatchObject({ status: 'sent', payload: '', attempts: 2, lease_id: null, last_error: null });
    expect(smtp.to('alice@example.com')).toHaveLength(1);
    // It is the code the acknowledged sign-up issued.
    expect((await verifyEmail(second, token, email.code!)).status).toBe(200);
  }, 45_000);

  it('SMTP down during sign-up, then up: the email arrives at the retry, once', async () => {
    smtp.refusing = true;
    const service = await start({ SMTP_URL: smtp.url });
    const token = await signUp(service, 'bob@example.com');
    await until('the first failed try', () => failedOnce(outboxRows(database)[0]));
    expect(smtp.received).toEqual([]);

    smtp.refusing = false;
    // The retry comes 5 s (x0.75 to x1.25) after the failure.
    const email = await smtp.waitFor('bob@example.com', { timeoutMs: 15_000 });
    const rows = await until('the row marked sent', () => {
      const all = outboxRows(database);
      return all[0]?.status === 'sent' && all;
    });
    // Sent: nothing is left to retry, so what arrived is all that will.
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'sent', payload: '', attempts: 2 });
    expect(smtp.received).toHaveLength(1);
    expect((await verifyEmail(service, token, email.code!)).status).toBe(200);
  }, 45_000);
});

describe('codes and the log', () => {
  it('with SMTP_URL, no code reaches the log, at the most verbose level', async () => {
    const service = await start({ SMTP_URL: smtp.url, LOG_LEVEL: 'trace' });
    await signUp(service, 'carol@example.com');
    expect((await call(service, 'POST', '/v1/recovery', { email: 'carol@example.com' })).status).toBe(202);
    const verification = await smtp.waitFor('carol@example.com');
    const recovery = await smtp.waitFor('carol@example.com', { skip: 1 });
    await until('both deliveries logged', () => service.output().split('"msg":"delivered"').length === 3);
    expect(verification.code).toMatch(/^\d{6}$/);
    expect(recovery.code).toMatch(/^\d{6}$/);
    expect(containsCode(service.output(), verification.code!)).toBe(false);
    expect(containsCode(service.output(), recovery.code!)).toBe(false);
    // Nor the emails' text.
    expect(service.output()).not.toContain('To confirm that this address is yours');
  });

  it('without SMTP_URL on localhost (no configuration): the start-up line says so, and each email, code included, is in the log', async () => {
    // LOG_LEVEL unset, as in a bare `npm start`.
    const service = await start({ LOG_LEVEL: '' });
    expect(service.output()).toContain("emails are printed in the service's log");
    const token = await signUp(service, 'dave@example.com');
    const line = await until('the email in the log', () =>
      service
        .output()
        .split('\n')
        .find((l) => l.includes('"to":"dave@example.com"')),
    );
    const { email } = JSON.parse(line);
    expect(email.subject).toContain('Confirm your email address');
    const code = (email.text as string).match(/(?<!\d)\d{6}(?!\d)/)?.[0];
    expect(code).toBeDefined();
    expect((await verifyEmail(service, token, code!)).status).toBe(200);
  });

  it('at LOG_LEVEL=warn, which shows the start-up line, the emails are printed too (the row says sent: the log is their only copy)', async () => {
    const service = await start({ LOG_LEVEL: 'warn' });
    expect(service.output()).toContain("emails are printed in the service's log");
    await signUp(service, 'gina@example.com');
    await until('the row marked sent', () => outboxRows(database)[0]?.status === 'sent');
    // Written before the row was marked; the pipe may take a moment to bring it here.
    const line = await until(
      'the email in the log',
      () =>
        service
          .output()
          .split('\n')
          .find((l) => l.includes('"to":"gina@example.com"')),
      5_000,
    );
    expect(JSON.parse(line).email.text).toMatch(/(?<!\d)\d{6}(?!\d)/);
  });
});

describe('start-up without SMTP_URL on a public RP ID', () => {
  const publicSite = { RP_ID: 'example.com', ORIGINS: 'https://example.com', PUBLIC_URL: 'https://example.com' };

  it('refuses to start: exit code 1 and one line naming SMTP_URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(await freePort()), DATABASE_URL: database, ...publicSite },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: SMTP_URL: required .*example\.com.*EMAIL_DELIVERY=log/);
  });

  it('starts with EMAIL_DELIVERY=log, saying that emails go to the log', async () => {
    const service = await start({ ...publicSite, EMAIL_DELIVERY: 'log' });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect(service.output()).toContain("emails are printed in the service's log");
  });
});

describe('SMTP servers that need more', () => {
  it('a login (user and password in SMTP_URL): the email arrives', async () => {
    const withLogin = await startSmtp({ user: 'mailer', pass: 'p@ss:w/rd' });
    try {
      expect(withLogin.url).toContain('mailer:');
      const service = await start({ SMTP_URL: withLogin.url });
      await signUp(service, 'erin@example.com');
      const email = await withLogin.waitFor('erin@example.com');
      expect(email.code).toMatch(/^\d{6}$/);
      expect(email.secure).toBe(false);
    } finally {
      await withLogin.close();
    }
  });

  it('STARTTLS: the email arrives over the encrypted connection', async () => {
    const withTls = await startSmtp({ starttls: true });
    try {
      const service = await start({ SMTP_URL: withTls.url });
      await signUp(service, 'frank@example.com');
      const email = await withTls.waitFor('frank@example.com');
      expect(email.code).toMatch(/^\d{6}$/);
      expect(email.secure).toBe(true);
    } finally {
      await withTls.close();
    }
  });
});
