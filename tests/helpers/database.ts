// Which engine a test run uses, and a fresh, isolated database for one test.
// TEST_DB=postgres (set by the "postgres" Vitest project) gives each database
// its own new schema in TEST_DATABASE_URL, dropped afterwards; otherwise SQLite,
// in memory or, when a test restarts the service, in a temporary file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const engine: 'sqlite' | 'postgres' = process.env.TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database URL whose connections use `schema` (created here) for everything. */
export async function freshPostgresSchema(): Promise<TestDatabase & { schema: string }> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create schema ${schema}`);
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { schema, url: url.toString(), drop: () => adminQuery(`drop schema if exists ${schema} cascade`) };
}

export async function freshDatabase({ persistent = false } = {}): Promise<TestDatabase> {
  if (engine === 'postgres') return freshPostgresSchema();
  if (!persistent) return { url: ':memory:', drop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'passkeys-test-'));
  return { url: join(dir, 'passkeys.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}
