// SQLite, the default engine: one connection in WAL mode with foreign keys on.
// With synchronous FULL, an answered write is on disk: SQLite itself runs NORMAL (a
// commit writes the WAL without fsync) and group commit syncs the WAL before the answer.
// A lock held by another process is waited for up to busyTimeoutMs without blocking the
// event loop, then the request fails as unavailable (503) instead of hanging.
// The file holds private keys: a folder or file the service creates is its owner's alone.
import { closeSync, constants, fdatasync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely } from 'kysely';
import { registerFlusher, walFlusher, type SyncFile } from './group-commit.js';
import { SqliteServiceDialect } from './sqlite-driver.js';
import type { Database, Db } from './schema.js';

export interface SqliteOptions {
  url: string;
  busyTimeoutMs?: number;
  synchronous?: 'FULL' | 'NORMAL';
  /** How the WAL is flushed to disk (tests count and delay it). */
  syncFile?: SyncFile;
}

// A new folder gets 0700 and a new file 0600 (SQLite gives its -wal and -shm files the
// file's mode); an existing folder or file keeps the mode its owner chose.
function createPrivately(file: string) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

export function openSqlite({ url, busyTimeoutMs = 1000, synchronous = 'FULL', syncFile = fdatasync }: SqliteOptions): Db {
  if (url !== ':memory:') createPrivately(url);
  const sqlite = new SQLite(url);
  const wal = sqlite.pragma('journal_mode = WAL', { simple: true }) === 'wal';
  // Group commit needs the WAL; without it (an in-memory database) SQLite's own setting applies.
  const groupCommit = wal && synchronous === 'FULL';
  sqlite.pragma(`synchronous = ${groupCommit ? 'NORMAL' : synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  // SQLite's own default page cache: the kernel caches the file as well, and a larger one stays in RSS.
  sqlite.pragma('cache_size = -2000');
  // Without the WAL a COMMIT may wait for readers inside its transaction, where only SQLite's own wait helps.
  sqlite.pragma(`busy_timeout = ${wal ? 0 : busyTimeoutMs}`);
  // SQLite puts the WAL beside the real file, wherever a symlink points.
  const flusher = groupCommit ? walFlusher(`${realpathSync(url)}-wal`, syncFile) : undefined;
  const db = new Kysely<Database>({ dialect: new SqliteServiceDialect(sqlite, busyTimeoutMs, flusher) });
  if (flusher) registerFlusher(db, flusher);
  return db;
}
