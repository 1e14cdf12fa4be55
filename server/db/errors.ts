// The one place that knows how each driver reports its failures.

const codeOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

export function isUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

const unavailableCodes = new Set([
  // network, from node
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN',
  // PostgreSQL: shutting down, starting up, too many connections, statement timeout
  '57P01', '57P02', '57P03', '53300', '57014',
  // SQLite: the WAL could not be flushed (connect.ts); and below, any SQLITE_BUSY or
  // SQLITE_LOCKED: another process held the lock for longer than we wait
  'WAL_FLUSH_FAILED',
]);
const unavailableMessages = [
  'Connection terminated',
  'Query read timeout', // pg's query_timeout: the server stopped answering
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end on the pool',
  'driver has already been destroyed',
  'The database connection is not open',
];

// PostgreSQL: disk full, out of memory, I/O error, read-only transaction.
const storageCodes = new Set(['53100', '53200', '58030', '25006']);

/**
 * The database answers but cannot take writes: the disk is full or failing, the
 * file or the server is read-only (a PostgreSQL standby after a fail-over), or the
 * server is out of memory. Reads go on working, so readiness does not fail.
 */
function isStorageFailure(error: unknown): boolean {
  const code = codeOf(error);
  if (typeof code !== 'string') return false;
  return /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/.test(code) || storageCodes.has(code);
}

/** The database cannot answer right now (as opposed to: the query was wrong). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (typeof code === 'string' && (unavailableCodes.has(code) || /^(08|SQLITE_BUSY|SQLITE_LOCKED)/.test(code))) return true;
  if (isStorageFailure(error)) return true;
  const message = error instanceof Error ? error.message : '';
  return unavailableMessages.some((text) => message.includes(text));
}
