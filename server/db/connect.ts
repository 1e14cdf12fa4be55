// Opening the database and bringing its schema up to date. The same Kysely
// queries and migrations run on both engines; this file is the only one that
// knows which engine it is talking to.
//
// SQLite (the default) runs in WAL mode. With SQLITE_SYNCHRONOUS=FULL (the default)
// every write is on disk before the client hears "success", so a sign-up or sign-in
// that was answered survives a power cut, not only a process crash. It is done by
// group commit rather than by SQLite's own synchronous=FULL, which fsyncs inside
// every COMMIT and so blocks the event loop (better-sqlite3 is synchronous) for as
// long as the disk takes: SQLite runs with synchronous=NORMAL (a commit writes the
// WAL, no fsync), and a request that wrote waits, after it has released the
// connection, for an fdatasync of the WAL that started after its commit (see
// walFlusher). One fsync on libuv's thread pool covers every commit made before it
// began, and the event loop never waits for the disk. NORMAL skips the wait.
// Foreign keys are on; a short busy timeout lets a second writer wait a moment for
// the lock, then the request answers 503 rather than hanging.
//
// PostgreSQL (DATABASE_URL=postgres://...) uses a pool. int8 (the counter, and
// count(*)) is parsed to a JS number, as SQLite returns it: counters are 32-bit.
// A pool error on an idle connection (the server restarted) is logged, never
// fatal; the pool opens fresh connections for the next queries.
import { closeSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresAdapter,
  PostgresDialect,
  sql,
  SqliteDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type KyselyPlugin,
  type MigrationProvider,
  type RootOperationNode,
  type SqliteDatabase,
} from 'kysely';
import { createRequire } from 'node:module';
import type pg from 'pg';
import { migrations } from '../../migrations/index.js';
import type { Database, Db } from './schema.js';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  busyTimeoutMs?: number;
  synchronous?: 'FULL' | 'NORMAL';
  statementTimeoutMs?: number;
  onPoolError?: (error: Error) => void;
  /** How the WAL is flushed to disk (tests count and delay it). */
  syncFile?: SyncFile;
}

export type SyncFile = (fd: number, done: (error: Error | null) => void) => void;

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

const INT8_OID = 20;

// pg is loaded only when DATABASE_URL names PostgreSQL: a SQLite service does not
// carry it in memory.
const require = createRequire(import.meta.url);

function openPostgres({ url, poolSize = 10, statementTimeoutMs = 5000, onPoolError }: DatabaseOptions): Db {
  const pg = require('pg') as typeof import('pg');
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

/**
 * Group commit: `flush()` resolves once an fdatasync of the WAL that began after
 * the call has finished. While one runs, every caller that arrives waits for the
 * next one, which starts when the running one ends and covers them all.
 */
function walFlusher(walPath: string, syncFile: SyncFile = fdatasync) {
  let fd: number | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const sync = () => {
    running = new Promise<void>((resolve, reject) => {
      fd ??= openSync(walPath, 'r'); // the WAL exists once anything was committed
      syncFile(fd, (error) => (error ? reject(error) : resolve()));
    }).finally(() => (running = undefined));
    return running;
  };
  return {
    flush(): Promise<void> {
      if (!running) return sync();
      next ??= running.catch(() => {}).then(() => {
        next = undefined;
        return sync();
      });
      return next;
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

type WalFlusher = ReturnType<typeof walFlusher>;

// Statements built on `relaxed(db)` (see withRelaxedDurability) write rows nobody
// is hurt to lose in a power cut: a request that only did those does not wait.
const relaxedQueries = new WeakSet<RootOperationNode>();
const relaxedPlugin: KyselyPlugin = {
  transformQuery: ({ node }) => (relaxedQueries.add(node), node),
  transformResult: async ({ result }) => result,
};
const transactionControl = /^(begin|commit|rollback)\b/i;

/** Marks a connection as having written; releasing it waits for the WAL flush. */
class WritingConnection implements DatabaseConnection {
  wrote = false;
  constructor(readonly inner: DatabaseConnection) {}
  executeQuery<R>(query: CompiledQuery) {
    if (query.query.kind !== 'SelectQueryNode' && !relaxedQueries.has(query.query) && !transactionControl.test(query.sql)) this.wrote = true;
    return this.inner.executeQuery<R>(query);
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number) {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class GroupCommitDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly wal: WalFlusher,
  ) {}
  init = () => this.inner.init();
  acquireConnection = async () => new WritingConnection(await this.inner.acquireConnection());
  beginTransaction: Driver['beginTransaction'] = (c, settings) => this.inner.beginTransaction(c, settings);
  commitTransaction: Driver['commitTransaction'] = (c) => this.inner.commitTransaction(c);
  rollbackTransaction: Driver['rollbackTransaction'] = (c) => this.inner.rollbackTransaction(c);
  savepoint: Driver['savepoint'] = (c, name, compile) => this.inner.savepoint!(c, name, compile);
  rollbackToSavepoint: Driver['rollbackToSavepoint'] = (c, name, compile) => this.inner.rollbackToSavepoint!(c, name, compile);
  releaseSavepoint: Driver['releaseSavepoint'] = (c, name, compile) => this.inner.releaseSavepoint!(c, name, compile);
  async destroy() {
    await this.inner.destroy();
    this.wal.close();
  }
  // The connection is free for others before this request waits for the disk.
  async releaseConnection(connection: DatabaseConnection) {
    const { inner, wrote } = connection as WritingConnection;
    await this.inner.releaseConnection(inner);
    if (wrote) await this.wal.flush();
  }
}

class GroupCommitDialect extends SqliteDialect {
  constructor(
    database: SqliteDatabase,
    private readonly wal: WalFlusher,
  ) {
    super({ database });
  }
  override createDriver(): Driver {
    return new GroupCommitDriver(super.createDriver(), this.wal);
  }
}

function openSqlite({ url, busyTimeoutMs = 1000, synchronous = 'FULL', syncFile }: DatabaseOptions): Db {
  if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
  const sqlite = new SQLite(url);
  sqlite.pragma('journal_mode = WAL');
  // Durability comes from the WAL flush below, not from an fsync inside COMMIT.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // better-sqlite3 waits synchronously: keep this short, a locked database answers 503.
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const database = withStatementCache(sqlite);
  const dialect =
    synchronous === 'FULL' && url !== ':memory:' ? new GroupCommitDialect(database, walFlusher(`${url}-wal`, syncFile)) : new SqliteDialect({ database });
  return new Kysely<Database>({ dialect });
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

const relaxedDbs = new WeakMap<Db, Db>();

/**
 * Runs `work` with writes that need not reach the disk before they return: for
 * rows nobody is hurt to lose in a power cut (a challenge: its ceremony just
 * fails). It saves an fsync wait per ceremony start, and keeps a start for a
 * known email about as fast as one for an unknown email, which writes nothing.
 */
export async function withRelaxedDurability<T>(db: Db, work: (db: Db) => Promise<T>): Promise<T> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    return db.transaction().execute(async (trx) => {
      await sql`set local synchronous_commit to off`.execute(trx);
      return work(trx);
    });
  }
  let relaxed = relaxedDbs.get(db);
  if (!relaxed) {
    relaxed = db.withPlugin(relaxedPlugin);
    relaxedDbs.set(db, relaxed);
    relaxedInstances.add(relaxed);
  }
  return work(relaxed);
}

const relaxedInstances = new WeakSet<Db>();

/** Whether `db` is one withRelaxedDurability gave out (prepared queries compile for it apart). */
export const isRelaxed = (db: Db) => relaxedInstances.has(db);
