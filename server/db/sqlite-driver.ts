// Kysely's SQLite driver, wrapped for a service. better-sqlite3 runs on the event loop,
// so SQLite's own busy handler would block it: SQLite gives up at once (busy_timeout 0)
// and a statement that found the database locked is retried here, after a pause, until
// the deadline taken when the connection was acquired. Only a statement that failed
// without changing anything is retried. A connection that wrote waits for group commit
// after it is released, so others can use it while its request waits for the disk.
import { setTimeout as sleep } from 'node:timers/promises';
import type SQLite from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { isSqliteBusy } from './errors.js';
import type { WalFlusher } from './group-commit.js';

// SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, an I/O error,
// SQLITE_BUSY halfway); Kysely's ROLLBACK would then fail and hide the real error.
const alreadyRolledBack: SqliteStatement = {
  reader: false,
  all: () => [],
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
  iterate: () => [][Symbol.iterator](),
};

// Kysely prepares every query afresh; the service's queries are a small fixed set.
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

// Raw statements that write nothing: reads (a readiness probe) and transaction control.
const writesNothing = /^\s*(select|begin|commit|rollback)\b/i;

/** The one SQLite connection, as a request holds it: remembers whether it wrote, waits for locks. */
class SqliteServiceConnection implements DatabaseConnection {
  wrote = false;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly sqlite: SQLite.Database,
    private readonly deadline: number,
  ) {}
  async executeQuery<R>(query: CompiledQuery) {
    if (query.query.kind !== 'SelectQueryNode' && !writesNothing.test(query.sql)) this.wrote = true;
    // Outside a transaction a failed statement changed nothing; inside one, BEGIN IMMEDIATE already holds the lock.
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
  // The deadline counts from here, so requests queued behind a waiting one give up with it.
  acquireConnection = async () => {
    const deadline = performance.now() + this.busyTimeoutMs;
    return new SqliteServiceConnection(await this.inner.acquireConnection(), this.sqlite, deadline);
  };
  // The write lock is taken up front, so nothing inside a transaction waits for it.
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

export class SqliteServiceDialect extends SqliteDialect {
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
