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
// (Kysely's controlled transactions, db.startTransaction(), would answer before
// the flush: the service uses db.transaction() only.)
// Foreign keys are on. A write waits up to SQLITE_BUSY_TIMEOUT_MS for a lock held
// by another process, without blocking the event loop (SqliteServiceConnection),
// then the request answers 503 rather than hanging.
//
// PostgreSQL (DATABASE_URL=postgres://...) uses a pool. int8 (the counter, and
// count(*)) is parsed to a JS number, as SQLite returns it: counters are 32-bit.
// A pool error on an idle connection (the server restarted) is logged, never
// fatal; the pool opens fresh connections for the next queries.
import { closeSync, constants, fdatasync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  CompiledQuery,
  Migrator,
  PostgresAdapter,
  PostgresDialect,
  sql,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type MigrationProvider,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { createRequire } from 'node:module';
import type pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { isPostgresUrl } from '../config.js';
import { isSqliteBusy } from './errors.js';
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
    // A request never waits on a locked or slow database for longer than this...
    statement_timeout: statementTimeoutMs,
    // ...nor on one that stopped answering (the server cannot enforce that one).
    query_timeout: statementTimeoutMs + 1000,
    keepAlive: true,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (error) => onPoolError?.(error));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

// SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, an I/O
// error, SQLITE_BUSY halfway through). Kysely's own ROLLBACK would then fail with
// "no transaction is active" and hide the error that explains what happened.
const alreadyRolledBack: SqliteStatement = {
  reader: false,
  all: () => [],
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
  iterate: () => [][Symbol.iterator](),
};

// Kysely prepares every query afresh; the queries are a small fixed set, so keep
// their prepared statements (better-sqlite3 runs one statement at a time anyway).
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      if (sql === 'rollback' && !sqlite.inTransaction) return alreadyRolledBack;
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

/** A WAL flush failed: what was written since may not be on disk, so no write is acknowledged any more. */
export class WalFlushFailed extends Error {
  readonly code = 'WAL_FLUSH_FAILED';
  constructor(cause: unknown) {
    super('The database could not flush its log to disk', { cause });
  }
}

/**
 * Group commit: `flush()` resolves once an fdatasync of the WAL that began after
 * the call has finished (the first one also syncs the WAL's directory). Callers
 * that arrive while one runs wait together for the next, which starts the moment
 * the running one ends. A failed fdatasync fails
 * every flush after it (the kernel may have dropped the pages it could not write,
 * so a later success would prove nothing) until the process restarts.
 */
function walFlusher(walPath: string, syncFile: SyncFile) {
  let fd: number | undefined;
  let syncing = false;
  let waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let failed: WalFlushFailed | undefined;
  let closed = false;
  let idle: (() => void) | undefined;

  function sync(): void {
    const batch = waiting;
    waiting = [];
    syncing = true;
    const flushWal = (wal: number) => syncFile(wal, (error) => done(batch, error));
    if (fd !== undefined) return flushWal(fd);
    let wal: number | undefined;
    let dir: number | undefined;
    try {
      wal = openSync(walPath, 'r'); // the WAL exists once anything was committed
      // SQLite fsyncs the directory entry of a WAL it made only at its first checkpoint:
      // until then a power cut could lose the file, and every commit in it. Once, first.
      if (process.platform !== 'win32') dir = openSync(dirname(walPath), 'r');
    } catch (error) {
      if (wal !== undefined) closeSync(wal);
      // No WAL yet: the statements that asked wrote nothing (a pragma, say), so
      // there is nothing to make durable; the next flush looks for it again.
      done(batch, wal === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : error);
      return;
    }
    fd = wal;
    if (dir === undefined) return flushWal(wal);
    syncFile(dir, (error) => {
      closeSync(dir);
      if (error) done(batch, error);
      else flushWal(wal);
    });
  }
  function settle(batch: typeof waiting): void {
    for (const caller of batch) {
      if (failed) caller.reject(failed);
      else caller.resolve();
    }
  }
  function done(batch: typeof waiting, error: unknown): void {
    syncing = false;
    if (error) failed ??= new WalFlushFailed(error);
    settle(batch);
    if (waiting.length > 0 && !failed) return sync();
    settle(waiting.splice(0)); // none, or all of them failed
    idle?.();
  }
  return {
    failure: () => failed,
    flush(): Promise<void> {
      if (closed) return Promise.reject(new Error('The database is closed'));
      if (failed) return Promise.reject(failed);
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        if (!syncing) sync();
      });
    },
    /** Waits for the flushes under way, then lets go of the WAL. */
    async close() {
      closed = true;
      if (syncing) await new Promise<void>((resolve) => (idle = resolve));
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

type WalFlusher = ReturnType<typeof walFlusher>;
const flushers = new WeakMap<Db, WalFlusher>();

/** Why this database can no longer acknowledge writes, if it cannot (readiness checks ask). */
export const durabilityFailure = (db: Db): Error | undefined => flushers.get(db)?.failure();

// Raw statements that write nothing: reads (a readiness probe) and transaction control.
const writesNothing = /^\s*(select|begin|commit|rollback)\b/i;

/**
 * The one SQLite connection, as a request holds it. It remembers whether the
 * request wrote (releasing it then waits for the WAL flush), and it waits for
 * another process's lock without blocking the event loop: SQLite's own busy
 * handler sleeps on the calling thread, which for better-sqlite3 is the event loop,
 * so SQLite gives up at once (busy_timeout 0) and a statement that found the
 * database locked is tried again here, after a pause, until `deadline`. Only a
 * statement that changed nothing by failing is tried again: one outside any
 * transaction, or the BEGIN IMMEDIATE that opens one (it takes the write lock up
 * front, so nothing inside a transaction waits for it).
 */
class SqliteServiceConnection implements DatabaseConnection {
  wrote = false;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly sqlite: SQLite.Database,
    private readonly deadline: number,
  ) {}
  async executeQuery<R>(query: CompiledQuery) {
    if (query.query.kind !== 'SelectQueryNode' && !writesNothing.test(query.sql)) this.wrote = true;
    const outsideTransaction = !this.sqlite.inTransaction;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (error) {
        if (!isSqliteBusy(error) || !outsideTransaction || performance.now() + pause > this.deadline) throw error;
        await sleep(pause);
      }
    }
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number) {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class SqliteServiceDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly sqlite: SQLite.Database,
    private readonly busyTimeoutMs: number,
    private readonly wal: WalFlusher | undefined,
  ) {}
  init = () => this.inner.init();
  // The wait for a lock counts from here: requests queued behind one that waits
  // give up with it, rather than each waiting in turn.
  acquireConnection = async () => {
    const deadline = performance.now() + this.busyTimeoutMs;
    return new SqliteServiceConnection(await this.inner.acquireConnection(), this.sqlite, deadline);
  };
  beginTransaction: Driver['beginTransaction'] = async (c) => void (await c.executeQuery(CompiledQuery.raw('begin immediate')));
  commitTransaction: Driver['commitTransaction'] = (c) => this.inner.commitTransaction(c);
  rollbackTransaction: Driver['rollbackTransaction'] = (c) => this.inner.rollbackTransaction(c);
  savepoint: Driver['savepoint'] = (c, name, compile) => this.inner.savepoint!(c, name, compile);
  rollbackToSavepoint: Driver['rollbackToSavepoint'] = (c, name, compile) => this.inner.rollbackToSavepoint!(c, name, compile);
  releaseSavepoint: Driver['releaseSavepoint'] = (c, name, compile) => this.inner.releaseSavepoint!(c, name, compile);
  async destroy() {
    await this.wal?.close();
    await this.inner.destroy();
  }
  // The connection is free for others before this request waits for the disk.
  async releaseConnection(connection: DatabaseConnection) {
    const { inner, wrote } = connection as SqliteServiceConnection;
    await this.inner.releaseConnection(inner);
    if (wrote && this.wal) await this.wal.flush();
  }
}

class SqliteServiceDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly busyTimeoutMs: number,
    private readonly wal: WalFlusher | undefined,
  ) {
    super({ database: withStatementCache(sqlite) });
  }
  override createDriver(): Driver {
    return new SqliteServiceDriver(super.createDriver(), this.sqlite, this.busyTimeoutMs, this.wal);
  }
}

// The file holds the private signing keys and the server secret: a folder the
// service creates is its owner's alone (0700), and so is a new database file
// (0600). SQLite gives the -wal and -shm files the mode of the database file. An
// existing folder or file keeps the mode its owner chose.
function createPrivately(file: string) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

function openSqlite({ url, busyTimeoutMs = 1000, synchronous = 'FULL', syncFile = fdatasync }: DatabaseOptions): Db {
  if (url !== ':memory:') createPrivately(url);
  const sqlite = new SQLite(url);
  const wal = sqlite.pragma('journal_mode = WAL', { simple: true }) === 'wal';
  // Group commit needs the WAL; without it (an in-memory database) SQLite's own setting applies.
  const groupCommit = wal && synchronous === 'FULL';
  sqlite.pragma(`synchronous = ${groupCommit ? 'NORMAL' : synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  // SQLite's own default page cache, 2 MB. better-sqlite3 builds SQLite with 16 MB,
  // which fills as the tables grow and stays in RSS, for no throughput the benchmark
  // can show: the kernel caches the file as well (README, Performance).
  sqlite.pragma('cache_size = -2000');
  // In WAL mode the connection waits for locks (SqliteServiceConnection). Without the
  // WAL (a file system that cannot share memory), a COMMIT may wait for readers
  // inside its transaction, where only SQLite's own, synchronous, wait can help.
  sqlite.pragma(`busy_timeout = ${wal ? 0 : busyTimeoutMs}`);
  // SQLite puts the WAL beside the real file, wherever a symlink points.
  const flusher = groupCommit ? walFlusher(`${realpathSync(url)}-wal`, syncFile) : undefined;
  const db = new Kysely<Database>({ dialect: new SqliteServiceDialect(sqlite, busyTimeoutMs, flusher) });
  if (flusher) flushers.set(db, flusher);
  return db;
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
 * Runs `work` in one transaction whose writes are rows nobody is hurt to lose in a
 * power cut (a challenge: its ceremony just fails). On PostgreSQL it commits without
 * waiting for the server's WAL flush (`synchronous_commit = off`). On SQLite it waits
 * for group commit like any write: under load a shared fsync costs nothing, and
 * answers released together by one fsync take less CPU than answers sent one by one
 * (README, Performance).
 */
export async function withRelaxedDurability<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`set local synchronous_commit to off`.execute(trx);
    return work(trx);
  });
}
