// Group commit for SQLite: a request that wrote is answered only after an fdatasync of
// the WAL that began after its commit. One sync covers every commit made before it
// started, and it runs on libuv's thread pool, so the event loop never waits for the disk.
// Invariant: once a sync fails, no later flush succeeds until the process restarts —
// the kernel may have dropped the pages it could not write, so a later success proves nothing.
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from './schema.js';

export type SyncFile = (fd: number, done: (error: Error | null) => void) => void;

/** A WAL flush failed: what was written since may not be on disk, so no write is acknowledged any more. */
export class WalFlushFailed extends Error {
  readonly code = 'WAL_FLUSH_FAILED';
  constructor(cause: unknown) {
    super('The database could not flush its log to disk', { cause });
  }
}

/**
 * `flush()` resolves once an fdatasync of the WAL that began after the call has
 * finished (the first one also syncs the WAL's directory). Callers that arrive while
 * one runs wait together for the next, which starts the moment the running one ends.
 */
export function walFlusher(walPath: string, syncFile: SyncFile) {
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
      // SQLite syncs the directory entry of a WAL it made only at its first checkpoint,
      // so a power cut could lose the whole file until then.
      if (process.platform !== 'win32') dir = openSync(dirname(walPath), 'r');
    } catch (error) {
      if (wal !== undefined) closeSync(wal);
      // No WAL yet: the statements that asked wrote nothing, so there is nothing to sync.
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

export type WalFlusher = ReturnType<typeof walFlusher>;

const flushers = new WeakMap<Db, WalFlusher>();

/** Ties a flusher to the database it flushes, for `durabilityFailure`. */
export function registerFlusher(db: Db, flusher: WalFlusher): void {
  flushers.set(db, flusher);
}

/** Why this database can no longer acknowledge writes, if it cannot (readiness checks ask). */
export const durabilityFailure = (db: Db): Error | undefined => flushers.get(db)?.failure();
