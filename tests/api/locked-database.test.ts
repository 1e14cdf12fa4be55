// A database that is locked by someone else answers 503 problem+json within a
// bounded time (the SQLite busy timeout, the PostgreSQL statement timeout), never a hang.
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { engine, freshDatabase, type TestDatabase } from '../helpers/database.js';
import { startService, type TestService } from '../helpers/service.js';

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
    other.exec('begin immediate; insert into challenges (id, kind, challenge, expires_at, created_at) values (\'x\', \'authentication\', \'c\', \'9999\', \'0\')');
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
