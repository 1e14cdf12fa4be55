// Opening the database and bringing its schema up to date. The same Kysely
// queries and migrations run on both engines; this file is the only one that
// knows which engine it is talking to.
//
// SQLite (the default) runs in WAL mode with synchronous=FULL (SQLITE_SYNCHRONOUS):
// every commit is fsynced before the client hears "success", so a sign-up or
// sign-in that was answered survives a power cut, not only a process crash. Foreign keys are on;
// a short busy timeout lets a second writer wait a moment for the lock, then the
// request answers 503 rather than hanging.
//
// PostgreSQL (DATABASE_URL=postgres://...) uses a pool. int8 (the counter, and
// count(*)) is parsed to a JS number, as SQLite returns it: counters are 32-bit.
// A pool error on an idle connection (the server restarted) is logged, never
// fatal; the pool opens fresh connections for the next queries.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, sql, SqliteDialect, type MigrationProvider, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import type { Database, Db } from './schema.js';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  busyTimeoutMs?: number;
  synchronous?: 'FULL' | 'NORMAL';
  statementTimeoutMs?: number;
  onPoolError?: (error: Error) => void;
}

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

const INT8_OID = 20;

// pg-pool listens for errors on idle clients only; a connection that dies while
// Kysely holds its client would emit an 'error' nobody hears and crash the
// process. The failure still reaches the query that uses the client, and the
// pool drops the client when it comes back unqueryable.
class Client extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => {});
  }
}

function openPostgres({ url, poolSize = 10, statementTimeoutMs = 5000, onPoolError }: DatabaseOptions): Db {
  const pool = new pg.Pool({
    Client,
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A request never waits on a locked or slow database for longer than this.
    statement_timeout: statementTimeoutMs,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (error) => onPoolError?.(error));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

// Kysely prepares every query afresh; the queries are a small fixed set, so keep
// their prepared statements (better-sqlite3 runs one statement at a time anyway).
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= 256) statements.clear();
        statement = sqlite.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

function openSqlite({ url, busyTimeoutMs = 1000, synchronous = 'FULL' }: DatabaseOptions): Db {
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
  const sqlite = new SQLite(url);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  // better-sqlite3 waits synchronously: keep this short, a locked database answers 503.
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

export function openDatabase(options: DatabaseOptions): Db {
  return isPostgresUrl(options.url) ? openPostgres(options) : openSqlite(options);
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies pending migrations. Concurrent callers on PostgreSQL wait for each other (an advisory lock). */
export async function migrate(db: Db): Promise<string[]> {
  // On PostgreSQL, keep the migration bookkeeping in the schema we work in, so that
  // several deployments (or test runs) can share a database in separate schemas.
  const migrationTableSchema =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({ db, provider, migrationTableSchema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Runs `work` on one connection whose commits need not reach the disk before
 * they return: for rows nobody is hurt to lose in a power cut (a challenge: its
 * ceremony just fails). It saves an fsync per ceremony start, and keeps a start
 * for a known email about as fast as one for an unknown email, which writes nothing.
 */
export async function withRelaxedDurability<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit to off`.execute(trx);
      return work(trx);
    });
  }
  return db.connection().execute(async (connection) => {
    const level = (await sql<{ synchronous: number }>`pragma synchronous`.execute(connection)).rows[0]!.synchronous;
    await sql`pragma synchronous = normal`.execute(connection);
    try {
      return await work(connection);
    } finally {
      await sql.raw(`pragma synchronous = ${Number(level)}`).execute(connection);
    }
  });
}
