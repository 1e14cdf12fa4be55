// The settings a SQLite file gets when the service opens it (db/sqlite.ts): the
// WAL (group commit and readers beside a writer need it), foreign keys enforced,
// and SQLite's own 2 MB page cache rather than the 16 MB better-sqlite3 builds in,
// which would fill as the tables grow and stay in the process's memory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../server/db/connect.js';
import type { Db } from '../../server/db/schema.js';

let dir: string;
let db: Db;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-settings-'));
  db = openDatabase({ url: join(dir, 'db.sqlite') });
  await migrate(db); // as at start-up
});
afterEach(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const pragma = async (name: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db)).rows[0]!)[0];

it('a SQLite file is opened in WAL mode, with foreign keys on and a 2 MB page cache', async () => {
  expect(await pragma('journal_mode')).toBe('wal');
  expect(await pragma('foreign_keys')).toBe(1);
  // Negative: a size in KiB (SQLite's default, -2000), not a number of pages.
  expect(await pragma('cache_size')).toBe(-2000);
});
