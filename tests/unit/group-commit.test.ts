// Group commit on SQLite (db/group-commit.ts): a write that was answered is on disk,
// because it waited for an fdatasync of the WAL that began after its commit; the
// connection is free for others meanwhile; commits made during one flush share
// the next; reads never wait; a sign-in start writes and waits for a flush whether
// its email has an account or not; a failed flush stops every later write (503)
// and readiness; a flush asked for before SQLite has made the WAL has nothing to sync.
import { fstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pino from 'pino';
import { durabilityFailure, migrate, openDatabase, WalFlushFailed, type SyncFile } from '../../server/db/connect.js';
import type { Db } from '../../server/db/schema.js';
import { findUserByEmail, insertUser } from '../../server/db/users.js';
import { createApp } from '../../server/app.js';
import { createServer } from '../../server/http/server.js';
import { loadConfig } from '../../server/config.js';
import { createAssertionVerifier } from '../../server/ceremonies/assertion.js';
import { OutboxSignal } from '../../server/outbox.js';
import { WebhookSubscriptions } from '../../server/webhooks/events.js';
import { loadServerSecret } from '../../server/secrets.js';
import { loadSigningKeys } from '../../server/tokens/signing-keys.js';
import { SoftAuthenticator } from '../helpers/authenticator.js';

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
  promise.then(
    () => (state.done = true),
    (error: unknown) => (state.error = error),
  );
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
    const write = track(
      db.transaction().execute(async (trx) => {
        await insertUser(trx, user(1));
        await insertUser(trx, user(2));
      }),
    );
    await settle();
    expect([syncs, write.done]).toEqual([1, false]);
    held.shift()!(null);
    await settle();
    expect(write.done).toBe(true);
  });

  it('a failed flush fails the writes that waited for it and every write after it, until a restart', async () => {
    const write = insertUser(db, user(1));
    const during = (await settle(), insertUser(db, user(2)));
    held.shift()!(new Error('EIO'));
    await expect(write).rejects.toBeInstanceOf(WalFlushFailed);
    await expect(during).rejects.toBeInstanceOf(WalFlushFailed);
    // The kernel may have dropped what it could not write: a later fsync proves nothing.
    await expect(insertUser(db, user(3))).rejects.toMatchObject({ code: 'WAL_FLUSH_FAILED' });
    expect(syncs).toBe(1);
    expect(durabilityFailure(db)).toBeInstanceOf(WalFlushFailed);
    // Reads go on.
    expect(await findUserByEmail(db, 'user3@example.com')).toMatchObject({ id: 'u3' });
  });

  it('reads, raw SELECTs included, do not wait', async () => {
    await sql`select 1`.execute(db);
    await findUserByEmail(db, 'nobody@example.com');
    expect(syncs).toBe(0);
  });

  it('closing waits for the flush under way; a write after closing fails', async () => {
    const write = track(insertUser(db, user(1)));
    await settle();
    const closing = track(db.destroy());
    await settle();
    expect(closing.done).toBe(false);
    held.shift()!(null);
    await settle();
    expect([write.done, closing.done]).toEqual([true, true]);
    db = openDatabase({ url: join(dir, 'db.sqlite'), syncFile }); // for afterEach
  });

  it('a database file reached through a symlink flushes the WAL beside the real file', async () => {
    writeFileSync(join(dir, 'real.sqlite'), '');
    symlinkSync(join(dir, 'real.sqlite'), join(dir, 'link.sqlite'));
    const linked = openDatabase({ url: join(dir, 'link.sqlite') }); // the real fdatasync
    await migrate(linked);
    await insertUser(linked, user(1));
    expect(durabilityFailure(linked)).toBeUndefined();
    await linked.destroy();
  });

  it('the first flush also syncs the directory that holds the WAL, once and before the WAL', async () => {
    const url = join(dir, 'fresh.sqlite');
    const synced: string[] = [];
    const naming: SyncFile = (fd, done) => {
      const { ino } = fstatSync(fd);
      synced.push(ino === statSync(dir).ino ? 'directory' : ino === statSync(`${url}-wal`).ino ? 'wal' : 'other');
      setImmediate(() => done(null));
    };
    const fresh = openDatabase({ url, syncFile: naming });
    await migrate(fresh);
    await insertUser(fresh, user(1));
    await insertUser(fresh, user(2));
    await fresh.destroy();
    expect(synced[0]).toBe('directory');
    expect(synced.slice(1)).toEqual(synced.slice(1).map(() => 'wal'));
    expect(synced.length).toBeGreaterThanOrEqual(3);
  });

  it('a statement that writes nothing, before SQLite has made the WAL, flushes nothing and fails nothing', async () => {
    const url = join(dir, 'fresh.sqlite');
    const synced: string[] = [];
    const naming: SyncFile = (fd, done) => {
      synced.push(fstatSync(fd).isDirectory() ? 'directory' : 'wal');
      setImmediate(() => done(null));
    };
    const fresh = openDatabase({ url, syncFile: naming });
    // Not a select, so it asks for a flush; the WAL does not exist yet.
    expect((await sql.raw('pragma foreign_keys').execute(fresh)).rows).toEqual([{ foreign_keys: 1 }]);
    expect(durabilityFailure(fresh)).toBeUndefined();
    expect(synced).toEqual([]);
    await migrate(fresh);
    await insertUser(fresh, user(1));
    expect(await findUserByEmail(fresh, user(1).email)).toMatchObject({ id: 'u1' });
    await fresh.destroy();
    expect(synced[0]).toBe('directory');
    expect(synced.slice(1)).toEqual(synced.slice(1).map(() => 'wal'));
  });

  it("a failed sync of the WAL's directory fails the writes like a failed flush", async () => {
    const failing = openDatabase({
      url: join(dir, 'fresh.sqlite'),
      syncFile: (fd, done) => setImmediate(() => done(fstatSync(fd).isDirectory() ? new Error('EIO') : null)),
    });
    await expect(migrate(failing)).rejects.toBeInstanceOf(WalFlushFailed);
    await expect(insertUser(failing, user(1))).rejects.toBeInstanceOf(WalFlushFailed);
    await failing.destroy();
  });

  it('with SQLITE_SYNCHRONOUS=NORMAL nothing waits for the disk', async () => {
    const normal = openDatabase({ url: join(dir, 'normal.sqlite'), synchronous: 'NORMAL', syncFile });
    await migrate(normal);
    await insertUser(normal, user(1));
    await normal.destroy();
    expect(syncs).toBe(0);
  });
});

async function serve(database: Db, log = pino({ level: 'silent' })) {
  const now = () => new Date();
  const config = loadConfig({ LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false' });
  const deps = {
    config,
    db: database,
    keys: await loadSigningKeys(database, now()),
    serverSecret: await loadServerSecret(database, now()),
    assertionVerifier: createAssertionVerifier(),
    now,
    log,
    outbox: new OutboxSignal(),
    webhooks: new WebhookSubscriptions(database),
  };
  const server = createServer(createApp(deps), config.connections).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = (method: string, path: string, body?: unknown, signal?: AbortSignal) =>
    fetch(`${url}${path}`, { method, signal, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { call, close };
}

/** A whole sign-up through `call`. */
async function signUpOver(call: Awaited<ReturnType<typeof serve>>['call'], email: string) {
  const started = await call('POST', '/v1/challenges', { email }).then((r) => r.json());
  const registration = await new SoftAuthenticator().createCredential(started.options);
  expect((await call('PUT', '/v1/challenges', { challengeId: started.challengeId, registration })).status).toBe(201);
}

describe('group commit, seen over HTTP', () => {
  it('after a failed WAL flush every write answers 503 service_unavailable, and so does /readyz; sign-in starts alike, with an account or without', async () => {
    hold = false;
    let fail = false;
    const failing = openDatabase({ url: join(dir, 'service.sqlite'), syncFile: (fd, done) => syncFile(fd, (error) => done(fail ? new Error('EIO') : error)) });
    await migrate(failing);
    const { call, close } = await serve(failing);
    try {
      expect((await call('GET', '/readyz')).status).toBe(200);
      await signUpOver(call, 'alice@example.com');
      const started = await call('POST', '/v1/challenges', { email: 'bob@example.com' }).then((r) => r.json());
      const registration = await new SoftAuthenticator().createCredential(started.options);
      fail = true;
      const answers = [
        await call('PUT', '/v1/challenges', { challengeId: started.challengeId, registration }),
        await call('POST', '/v1/challenges', { email: 'carol@example.com' }),
        await call('POST', '/v1/tokens', { email: 'alice@example.com' }),
        await call('POST', '/v1/tokens', { email: 'nobody@example.com' }),
      ];
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(await answer.json()).toMatchObject({ code: 'service_unavailable' });
      }
      expect((await call('GET', '/readyz')).status).toBe(503);
    } finally {
      await close();
      await failing.destroy();
    }
  });

  it('a sign-in start writes to the WAL and answers after a flush, for an email with an account and one without alike (each writes one challenge)', async () => {
    hold = false;
    const { call, close } = await serve(db);
    try {
      await signUpOver(call, 'alice@example.com');
      const challenges = async () =>
        (
          await db
            .selectFrom('challenges')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n;
      const walSize = () => statSync(join(dir, 'db.sqlite-wal')).size;
      for (const [email, left] of [
        ['alice@example.com', 1],
        ['nobody@example.com', 1],
      ] as const) {
        const [rowsBefore, walBefore] = [await challenges(), walSize()];
        hold = true;
        const start = track(call('POST', '/v1/tokens', { email }).then((r) => expect(r.status).toBe(200)));
        await settle();
        expect([held.length, start.done], email).toEqual([1, false]);
        expect(walSize(), email).toBeGreaterThan(walBefore); // a commit for the flush to write
        hold = false;
        held.splice(0).forEach((done) => done(null));
        await settle();
        expect([start.done, start.error], email).toEqual([true, undefined]);
        expect((await challenges()) - rowsBefore, email).toBe(left);
      }
    } finally {
      await close();
    }
  });

  it('a ceremony that ends after its client left still logs its outcome', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    hold = false;
    const { call, close } = await serve(db, log);
    try {
      const started = await call('POST', '/v1/challenges', { email: 'alice@example.com' }).then((r) => r.json());
      const registration = await new SoftAuthenticator().createCredential(started.options);
      hold = true;
      const leaving = new AbortController();
      const finish = call('PUT', '/v1/challenges', { challengeId: started.challengeId, registration }, leaving.signal).catch(() => 'aborted');
      await settle();
      expect(held).toHaveLength(1); // the finish is waiting for the disk
      leaving.abort();
      expect(await finish).toBe('aborted');
      await settle();
      hold = false;
      held.splice(0).forEach((done) => done(null));
      await settle();
      const aborted = lines.find((line) => line.msg === 'request aborted');
      expect(aborted).toMatchObject({ req: { method: 'PUT', url: '/v1/challenges' } });
      expect(aborted).not.toHaveProperty('res'); // no answer was sent: no status to report
      expect(lines.find((line) => line.msg === 'ceremony finished after the client left')).toMatchObject({
        ceremony: 'registration',
        step: 'finish',
        outcome: 'success',
      });
    } finally {
      await close();
    }
  });
});
