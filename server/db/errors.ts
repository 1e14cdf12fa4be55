// The one place that knows how each driver reports its failures.

const codeOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

export function isUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

const unavailableCodes = new Set([
  // network, from node
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  // PostgreSQL: shutting down, starting up, too many connections, statement timeout;
  // and a server that answers but cannot write: disk full, out of memory, I/O error,
  // read-only transaction (a standby after a fail-over)
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014',
  '53100',
  '53200',
  '58030',
  '25006',
  // SQLite: the WAL could not be flushed (group-commit.ts)
  'WAL_FLUSH_FAILED',
]);
// PostgreSQL: connection exceptions. SQLite: another process held the lock for longer
// than we wait; the disk is full or failing; the file is read-only or cannot be opened.
const unavailableCodePrefix = /^(08|SQLITE_BUSY|SQLITE_LOCKED|SQLITE_FULL|SQLITE_IOERR|SQLITE_READONLY|SQLITE_CANTOPEN)/;
const unavailableMessages = [
  'Connection terminated',
  'Query read timeout', // pg's query_timeout: the server stopped answering
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end on the pool',
  'driver has already been destroyed',
  'The database connection is not open',
];

/** The database cannot answer right now (as opposed to: the query was wrong). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (typeof code === 'string' && (unavailableCodes.has(code) || unavailableCodePrefix.test(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return unavailableMessages.some((text) => message.includes(text));
}

/** SQLite found the database locked by another connection (SQLITE_BUSY and its extended codes). */
export const isSqliteBusy = (error: unknown) => /^SQLITE_BUSY/.test(String(codeOf(error)));
