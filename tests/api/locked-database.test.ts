// A database that is locked by someone else answers 503 problem+json within a
// bounded time (the SQLite busy timeout, the PostgreSQL statement timeout), never a hang.
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { engine, freshDatabase, type TestDatabase } from '../helpers/database.js';
import { signUp, SoftAuthenticator, startService, type TestService } from '../helpers/service.js';

let database: TestDatabase;
let service: TestService;
let release: () => Promise<void>;
afterEach(async () => {
  await release?.();
  await service?.close();
  await database?.drop();
});

/** Holds the write lock on the challenges table from another connection. */
async function lockChallenges(url: string): Promise<() => Promise<void>> {
  if (engine === 'sqlite') {
    const other = new SQLite(url);
    other.exec("begin immediate; insert into challenges (id, kind, challenge, expires_at, created_at) values ('x', 'authentication', 'c', '9999', '0')");
    return async () => {
      other.exec('rollback');
      other.close();
    };
  }
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  await other.query('begin; lock table challenges in access exclusive mode');
  return async () => {
    await other.query('rollback');
    await other.end();
  };
}

it('a locked database -> 503 service_unavailable within the timeout, then works again', async () => {
  database = await freshDatabase({ persistent: true });
  service = await startService({ DATABASE_URL: database.url, SQLITE_BUSY_TIMEOUT_MS: '200', DATABASE_STATEMENT_TIMEOUT_MS: '300' });
  release = await lockChallenges(database.url);

  const began = Date.now();
  const reply = await service.request('POST', '/v1/tokens', {});
  expect(reply.status).toBe(503);
  expect(reply.body.code).toBe('service_unavailable');
  expect(reply.headers.get('retry-after')).toBe('5');
  expect(Date.now() - began).toBeLessThan(5_000); // bounded: not a hang

  await release();
  release = async () => {};
  expect((await service.request('POST', '/v1/tokens', {})).status).toBe(200);
});

it('a locked database: a sign-in start for an email with an account and one without both answer 503 (no user enumeration)', async () => {
  database = await freshDatabase({ persistent: true });
  service = await startService({ DATABASE_URL: database.url, SQLITE_BUSY_TIMEOUT_MS: '200', DATABASE_STATEMENT_TIMEOUT_MS: '300' });
  await signUp(service, new SoftAuthenticator(), 'alice@example.com');
  release = await lockChallenges(database.url);

  for (const email of ['alice@example.com', 'nobody@example.com']) {
    const reply = await service.request('POST', '/v1/tokens', { email });
    expect([reply.status, reply.body.code], email).toEqual([503, 'service_unavailable']);
  }
});

// SQLite waits for another process's lock without blocking the event loop: the
// service goes on answering, waits that overlap end together, and a lock let go
// mid-wait lets the write through.
if (engine === 'sqlite') {
  describe('SQLite locked by another process', () => {
    const timed = async (work: Promise<{ status: number }>) => {
      const { status } = await work;
      return { status, at: performance.now() };
    };

    it('keeps answering what needs no write lock while a write waits for it', async () => {
      database = await freshDatabase({ persistent: true });
      service = await startService({ DATABASE_URL: database.url, SQLITE_BUSY_TIMEOUT_MS: '1500' });
      release = await lockChallenges(database.url);
      const write = timed(service.request('POST', '/v1/tokens', {}));
      await new Promise((resolve) => setTimeout(resolve, 50)); // the write is waiting
      const health = await timed(service.request('GET', '/healthz'));
      expect(health.status).toBe(200);
      expect((await write).status).toBe(503);
      expect(health.at).toBeLessThan((await write).at); // answered while the write still waited
    });

    it('a lock let go during the wait lets the waiting write through', async () => {
      database = await freshDatabase({ persistent: true });
      service = await startService({ DATABASE_URL: database.url, SQLITE_BUSY_TIMEOUT_MS: '3000' });
      release = await lockChallenges(database.url);
      const write = service.request('POST', '/v1/tokens', {});
      await new Promise((resolve) => setTimeout(resolve, 100));
      await release();
      release = async () => {};
      expect((await write).status).toBe(200);
    });

    it('writes that wait at the same time get their 503s together, not one timeout after another', async () => {
      database = await freshDatabase({ persistent: true });
      service = await startService({ DATABASE_URL: database.url, SQLITE_BUSY_TIMEOUT_MS: '600' });
      release = await lockChallenges(database.url);
      const began = performance.now();
      const replies = await Promise.all(Array.from({ length: 5 }, () => timed(service.request('POST', '/v1/tokens', {}))));
      expect(replies.map((reply) => reply.status)).toEqual([503, 503, 503, 503, 503]);
      // One after another would take 5 × 600 ms; together, one timeout and change.
      expect(Math.max(...replies.map((reply) => reply.at)) - began).toBeLessThan(3 * 600);
    });
  });
}
