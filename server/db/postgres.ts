// PostgreSQL (DATABASE_URL=postgres://...) through a pool. int8 (the counter, count(*))
// is parsed to a JS number, as SQLite returns it: counters are 32-bit. No request waits
// on the database longer than the statement timeout. A lost connection is logged, never
// fatal: the pool opens fresh connections for the next queries.
import { createRequire } from 'node:module';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import type { Database, Db } from './schema.js';

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  onPoolError?: (error: Error) => void;
}

const INT8_OID = 20;

// pg is loaded only when DATABASE_URL names PostgreSQL, so a SQLite service does not carry it.
const require = createRequire(import.meta.url);

export function openPostgres({ url, poolSize = 10, statementTimeoutMs = 5000, onPoolError }: PostgresOptions): Db {
  const pg = require('pg') as typeof import('pg');
  // pg-pool hears errors on idle clients only: one on a client Kysely holds would crash
  // the process. The query using it still fails, and the pool drops the client.
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
    // Bounds a wait on a locked or slow database...
    statement_timeout: statementTimeoutMs,
    // ...and on one that stopped answering, which the server cannot bound.
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
