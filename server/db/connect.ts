// Opening the database: PostgreSQL when DATABASE_URL names it, SQLite otherwise. The same
// Kysely queries and migrations run on both; the repositories never know which engine
// they talk to. A write is answered only once it is durable, except inside
// withRelaxedDurability. The service uses db.transaction() only: Kysely's controlled
// transactions would answer before SQLite's group commit has synced the WAL.
import { PostgresAdapter, sql } from 'kysely';
import { isPostgresUrl } from '../config.js';
import { openPostgres, type PostgresOptions } from './postgres.js';
import { openSqlite, type SqliteOptions } from './sqlite.js';
import type { Db } from './schema.js';

export { durabilityFailure, WalFlushFailed, type SyncFile } from './group-commit.js';
export { migrate } from './migrate.js';

export type DatabaseOptions = PostgresOptions & SqliteOptions;

export function openDatabase(options: DatabaseOptions): Db {
  return isPostgresUrl(options.url) ? openPostgres(options) : openSqlite(options);
}

/**
 * Runs `work` in one transaction whose writes nobody is hurt to lose in a power cut (a
 * challenge: its ceremony just fails). On PostgreSQL it commits without waiting for the
 * server's WAL flush (`synchronous_commit = off`); on SQLite it waits for group commit
 * like any write: a shared fsync adds no work, and answers released together cost less CPU.
 */
export async function withRelaxedDurability<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`set local synchronous_commit to off`.execute(trx);
    return work(trx);
  });
}
