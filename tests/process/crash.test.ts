// Crash safety: under concurrent sign-up and sign-in load, the process is killed
// with SIGKILL at a random moment and restarted on the same SQLite file. Every
// sign-up and sign-in a client saw succeed must still be there: the passkey signs
// in, its stored counter is not behind what was acknowledged, the file passes
// `PRAGMA integrity_check`, and there are no orphan rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { startProcess, type ServiceProcess } from '../helpers/process.js';

interface Account {
  email: string;
  authenticator: SoftAuthenticator;
  acknowledgedCounter: number; // the highest counter of a sign-in the client saw succeed
}

async function call(service: ServiceProcess, method: string, path: string, body: unknown) {
  const response = await fetch(service.url + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function signUp(service: ServiceProcess, email: string): Promise<Account | undefined> {
  const authenticator = new SoftAuthenticator();
  const start = await call(service, 'POST', '/v1/challenges', { email });
  const registration = await authenticator.createCredential(start.body.options);
  const finish = await call(service, 'PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  return finish.status === 201 ? { email, authenticator, acknowledgedCounter: 0 } : undefined;
}

async function signIn(service: ServiceProcess, account: Account): Promise<boolean> {
  const start = await call(service, 'POST', '/v1/tokens', { email: account.email });
  const authentication = await account.authenticator.getAssertion(start.body.options);
  const counter = account.authenticator.credentials[0]!.signCount;
  const finish = await call(service, 'PUT', '/v1/tokens', { challengeId: start.body.challengeId, authentication });
  if (finish.status === 200) account.acknowledgedCounter = Math.max(account.acknowledgedCounter, counter);
  return finish.status === 200;
}

/** Clients doing sign-ups and sign-ins until the service dies under them. */
async function load(service: ServiceProcess, accounts: Account[], round: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; ; i++) {
        try {
          if (i % 3 === 0) {
            const account = await signUp(service, `r${round}-w${worker}-${next++}@example.com`);
            if (account) accounts.push(account);
          } else {
            // Worker-owned accounts: no two ceremonies of one passkey overlap.
            const mine = accounts.filter((_, index) => index % 8 === worker);
            if (mine.length) await signIn(service, mine[i % mine.length]!);
          }
        } catch {
          return; // the process is gone
        }
      }
    }),
  );
}

describe('crash safety', () => {
  for (const round of [1, 2, 3]) {
    it(`survives SIGKILL at a random moment under load (round ${round})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'passkeys-crash-'));
      const env = { DATABASE_URL: join(dir, 'passkeys.db'), RATE_LIMIT_ENABLED: 'false' };
      const accounts: Account[] = [];
      try {
        const first = await startProcess(env);
        const running = load(first, accounts, round);
        // The kill lands at a random moment after the first acknowledged sign-in, however slow the machine.
        while (!accounts.some((account) => account.acknowledgedCounter > 0)) await new Promise((resolve) => setTimeout(resolve, 20));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 1200));
        await first.stop('SIGKILL');
        await running;
        expect(accounts.length).toBeGreaterThan(0);
        expect(accounts.some((account) => account.acknowledgedCounter > 0)).toBe(true);

        const second = await startProcess(env);
        try {
          const db = new SQLite(env.DATABASE_URL, { readonly: true });
          try {
            expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
            expect(db.pragma('foreign_key_check')).toEqual([]);
            const lonely = db.prepare('select count(*) as n from users where id not in (select user_id from credentials)').get() as { n: number };
            expect(lonely.n).toBe(0);
            const counter = db.prepare('select counter from credentials where id = ?');
            for (const account of accounts) {
              const row = counter.get(account.authenticator.credentials[0]!.idHex) as { counter: number } | undefined;
              expect(row, `${account.email} was acknowledged but is gone`).toBeDefined();
              expect(row!.counter).toBeGreaterThanOrEqual(account.acknowledgedCounter);
            }
          } finally {
            db.close();
          }
          for (const account of accounts) expect(await signIn(second, account), account.email).toBe(true);
        } finally {
          await second.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
