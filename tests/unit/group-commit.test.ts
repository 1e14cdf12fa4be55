// Group commit on SQLite (db/connect.ts): a write that was answered is on disk,
// because it waited for an fdatasync of the WAL that began after its commit; the
// connection is free for others meanwhile; commits made during one flush share
// the next; challenge inserts (withRelaxedDurability) and reads never wait.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertChallenge } from '../../server/db/challenges.js';
import { migrate, openDatabase, withRelaxedDurability, type SyncFile } from '../../server/db/connect.js';
import type { Db } from '../../server/db/schema.js';
import { findUserByEmail, insertUser } from '../../server/db/users.js';

let dir: string;
let db: Db;
let held: ((error: Error | null) => void)[];
let hold: boolean;
let syncs: number;
const syncFile: SyncFile = (_fd, done) => {
  syncs++;
  if (hold) held.push(done);
  else setImmediate(() => done(null));
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'group-commit-'));
  [held, hold, syncs] = [[], false, 0];
  db = openDatabase({ url: join(dir, 'db.sqlite'), syncFile });
  await migrate(db);
  [hold, syncs] = [true, 0];
});
afterEach(async () => {
  hold = false;
  held.forEach((done) => done(null));
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const user = (n: number) => ({ id: `u${n}`, email: `user${n}@example.com`, display_name: '', user_handle: `h${n}`, created_at: '2026-01-01T00:00:00.000Z' });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function track(promise: Promise<unknown>) {
  const state = { done: false, error: undefined as unknown };
  promise.then(() => (state.done = true), (error: unknown) => (state.error = error));
  return state;
}

describe('group commit', () => {
  it('a write resolves only after a flush of the WAL, and the connection serves others meanwhile', async () => {
    const write = track(insertUser(db, user(1)));
    await settle();
    expect(syncs).toBe(1);
    expect(write.done).toBe(false);
    // Committed and visible, the connection released: only the answer waits.
    expect(await findUserByEmail(db, 'user1@example.com')).toMatchObject({ id: 'u1' });
    held.shift()!(null);
    await settle();
    expect(write.done).toBe(true);
  });

  it('commits made while a flush runs wait for the next one, which covers them all', async () => {
    const first = track(insertUser(db, user(1)));
    await settle();
    const later = [track(insertUser(db, user(2))), track(insertUser(db, user(3)))];
    await settle();
    expect(syncs).toBe(1); // the running flush may have begun before their commits
    held.shift()!(null);
    await settle();
    expect(first.done).toBe(true);
    expect(later.map((w) => w.done)).toEqual([false, false]);
    expect(syncs).toBe(2);
    held.shift()!(null);
    await settle();
    expect(later.map((w) => w.done)).toEqual([true, true]);
  });

  it('a transaction waits once, after its commit', async () => {
    const write = track(db.transaction().execute(async (trx) => {
      await insertUser(trx, user(1));
      await insertUser(trx, user(2));
    }));
    await settle();
    expect([syncs, write.done]).toEqual([1, false]);
    held.shift()!(null);
    await settle();
    expect(write.done).toBe(true);
  });

  it('challenge inserts and reads do not wait', async () => {
    const challenge = (id: string) => ({ id, kind: 'authentication' as const, challenge: 'x', user_id: null, email: null, display_name: null, user_handle: null, session_jti: null, created_at: 'x', expires_at: 'y' });
    await withRelaxedDurability(db, (relaxed) => insertChallenge(relaxed, challenge('c1')));
    await findUserByEmail(db, 'nobody@example.com');
    expect(syncs).toBe(0);
    // The same insert made without withRelaxedDurability waits.
    const plain = track(insertChallenge(db, challenge('c2')));
    await settle();
    expect([syncs, plain.done]).toEqual([1, false]);
    held.shift()!(null);
    await settle();
    expect(plain.done).toBe(true);
  });

  it('a failed flush fails the write that waited for it; the next write flushes afresh', async () => {
    const write = insertUser(db, user(1));
    await settle();
    held.shift()!(new Error('EIO'));
    await expect(write).rejects.toThrow('EIO');
    const next = track(insertUser(db, user(2)));
    await settle();
    expect(syncs).toBe(2);
    held.shift()!(null);
    await settle();
    expect(next.done).toBe(true);
  });

  it('with SQLITE_SYNCHRONOUS=NORMAL nothing waits for the disk', async () => {
    const normal = openDatabase({ url: join(dir, 'normal.sqlite'), synchronous: 'NORMAL', syncFile });
    await migrate(normal);
    await insertUser(normal, user(1));
    await normal.destroy();
    expect(syncs).toBe(0);
  });
});
