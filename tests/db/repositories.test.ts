// The database contract: the repository functions behave the same on SQLite and
// PostgreSQL (this file runs in both Vitest projects, unchanged).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeChallenge, insertChallenge } from '../../server/db/challenges.js';
import { migrate, openDatabase } from '../../server/db/connect.js';
import { findCredentialById, insertCredential, listCredentialsByUser, recordCredentialUse } from '../../server/db/credentials.js';
import { isUniqueViolation } from '../../server/db/errors.js';
import { deleteExpired } from '../../server/db/sweep.js';
import { findSecret, insertSecretIfAbsent, insertSigningKeyIfAbsent, listSigningKeys } from '../../server/db/keys.js';
import type { CredentialsTable, Db } from '../../server/db/schema.js';
import { findUserByEmail, insertUser } from '../../server/db/users.js';
import { freshDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let db: Db;
beforeEach(async () => {
  database = await freshDatabase();
  db = openDatabase({ url: database.url, poolSize: 5 });
  await migrate(db);
  await insertUser(db, { id: 'u1', email: 'alice@example.com', display_name: 'Alice', user_handle: 'h1', created_at: '2026-01-01T00:00:00.000Z' });
});
afterEach(async () => {
  await db.destroy();
  await database.drop();
});

const credential = (overrides: Partial<CredentialsTable> = {}): CredentialsTable => ({
  id: 'c0ffee',
  user_id: 'u1',
  public_key: 'a5010203',
  counter: 0,
  device_type: 'multiDevice',
  backed_up: 1,
  transports: '["internal"]',
  aaguid: '00000000-0000-0000-0000-000000000000',
  name: 'Passkey',
  created_at: '2026-01-01T00:00:00.000Z',
  last_used_at: null,
  ...overrides,
});

describe('migrations', () => {
  it('are applied once: a second run applies nothing', async () => {
    expect(await migrate(db)).toEqual([]);
  });
});

describe('credentials', () => {
  it('round-trip every column with its type (a 32-bit counter comes back as a number)', async () => {
    await insertCredential(db, credential({ counter: 4_294_967_295 }));
    expect(await findCredentialById(db, 'c0ffee')).toEqual(credential({ counter: 4_294_967_295 }));
    expect(await listCredentialsByUser(db, 'u1')).toHaveLength(1);
  });

  it('have ids unique across all users', async () => {
    await insertUser(db, { id: 'u2', email: 'bob@example.com', display_name: 'Bob', user_handle: 'h2', created_at: '2026-01-01T00:00:00.000Z' });
    await insertCredential(db, credential());
    const error = await insertCredential(db, credential({ user_id: 'u2' })).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it('are listed oldest first', async () => {
    await insertCredential(db, credential({ id: 'bb', created_at: '2026-01-02T00:00:00.000Z' }));
    await insertCredential(db, credential({ id: 'aa', created_at: '2026-01-03T00:00:00.000Z' }));
    await insertCredential(db, credential({ id: 'cc', created_at: '2026-01-01T00:00:00.000Z' }));
    expect((await listCredentialsByUser(db, 'u1')).map((c) => c.id)).toEqual(['cc', 'bb', 'aa']);
  });

  it('record a use only from the counter that was read (compare-and-set)', async () => {
    await insertCredential(db, credential({ counter: 5 }));
    const use = { id: 'c0ffee', expectedCounter: 5, counter: 6, backedUp: false, usedAt: '2026-01-05T00:00:00.000Z' };
    const results = await Promise.all([recordCredentialUse(db, use), recordCredentialUse(db, use)]);
    expect(results.sort()).toEqual([false, true]);
    expect(await findCredentialById(db, 'c0ffee')).toMatchObject({ counter: 6, backed_up: 0, last_used_at: '2026-01-05T00:00:00.000Z' });
  });

  it('go with their user (cascade)', async () => {
    await insertCredential(db, credential());
    await db.deleteFrom('users').where('id', '=', 'u1').execute();
    expect(await findCredentialById(db, 'c0ffee')).toBeUndefined();
  });
});

describe('users', () => {
  it('have unique emails', async () => {
    const duplicate = { id: 'u9', email: 'alice@example.com', display_name: '', user_handle: 'h9', created_at: '2026-01-01T00:00:00.000Z' };
    const error = await insertUser(db, duplicate).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect((await findUserByEmail(db, 'alice@example.com'))?.id).toBe('u1');
  });
});

describe('challenges', () => {
  it('are consumed by exactly one of many concurrent consumers', async () => {
    await insertChallenge(db, {
      id: 'ch1',
      kind: 'authentication',
      challenge: 'abc',
      user_id: 'u1',
      email: null,
      display_name: null,
      user_handle: null,
      session_jti: null,
      via: null,
      expires_at: '2026-01-01T00:05:00.000Z',
      created_at: '2026-01-01T00:00:00.000Z',
    });
    const results = await Promise.all(Array.from({ length: 8 }, () => consumeChallenge(db, 'ch1')));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.find(Boolean)).toMatchObject({ id: 'ch1', kind: 'authentication', user_id: 'u1' });
    expect(await db.selectFrom('challenges').selectAll().execute()).toEqual([]);
  });
});

describe('signing keys and secrets', () => {
  it('keep the first of concurrent inserts of one generation', async () => {
    const key = (kid: string) => ({ kid, generation: 1, algorithm: 'ES256', private_jwk: '{}', public_jwk: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    await Promise.all(['a', 'b', 'c', 'd'].map((kid) => insertSigningKeyIfAbsent(db, key(kid))));
    expect(await listSigningKeys(db)).toHaveLength(1);
  });

  it('keep the first value of a secret', async () => {
    await insertSecretIfAbsent(db, { name: 's', value: 'first', created_at: '2026-01-01T00:00:00.000Z' });
    await insertSecretIfAbsent(db, { name: 's', value: 'second', created_at: '2026-01-01T00:00:00.000Z' });
    expect((await findSecret(db, 's'))?.value).toBe('first');
  });
});

describe('sweep', () => {
  async function insertMany<T extends 'sessions' | 'audit_events' | 'challenges'>(table: T, rows: Record<string, unknown>[]) {
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto(table)
        .values(rows.slice(i, i + 500) as never)
        .execute();
  }

  it('deletes every expired row in batches, leaves the live ones, and lets other work run in between', async () => {
    const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes)).toISOString();
    await insertMany(
      'sessions',
      Array.from({ length: 2510 }, (_, i) => ({
        jti: `s${i}`,
        user_id: 'u1',
        credential_id: null,
        created_at: at(0),
        expires_at: i < 2500 ? at(10) : at(30),
        revoked_at: null,
      })),
    );
    await insertMany(
      'audit_events',
      Array.from({ length: 1205 }, (_, i) => ({
        id: `e${i}`,
        user_id: 'u1',
        type: 'passkey.used',
        credential_id: null,
        detail: null,
        ip: null,
        created_at: i < 1200 ? at(0) : at(30),
      })),
    );
    await insertMany(
      'challenges',
      Array.from({ length: 1001 }, (_, i) => ({
        id: `c${i}`,
        kind: 'authentication',
        challenge: 'x',
        user_id: null,
        email: null,
        display_name: null,
        user_handle: null,
        session_jti: null,
        via: null,
        created_at: at(0),
        expires_at: at(5),
      })),
    );
    let finished = false;
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = !finished));
    const deleted = await deleteExpired(db, at(20), at(15), at(15));
    finished = true;
    expect(deleted).toEqual({ challenges: 1001, sessions: 2500, auditEvents: 1200, emailCodes: 0, enrollmentTickets: 0, outbox: 0 });
    expect(ranMeanwhile).toBe(true);
    const left = async (table: 'sessions' | 'audit_events' | 'challenges') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect([await left('sessions'), await left('audit_events'), await left('challenges')]).toEqual([10, 5, 0]);
  });
});
