import { prepare, type EveryColumn } from './prepared.js';
import type { Db, SessionsTable } from './schema.js';

// Prepared (compiled once, see prepared.ts): every sign-in inserts one.
const insert = prepare((db, s: SessionsTable) =>
  db.insertInto('sessions').values({
    jti: s.jti,
    user_id: s.user_id,
    credential_id: s.credential_id,
    created_at: s.created_at,
    expires_at: s.expires_at,
    revoked_at: s.revoked_at,
    auth_time: s.auth_time,
    ip: s.ip,
  } satisfies EveryColumn<SessionsTable>),
);

export async function insertSession(db: Db, session: SessionsTable): Promise<void> {
  await insert(db, session);
}

export function findSession(db: Db, jti: string) {
  return db.selectFrom('sessions').selectAll().where('jti', '=', jti).executeTakeFirst();
}

/**
 * Whether the session is live, and keeps it so until the transaction `trx` ends: a
 * write to its row (the same value again) holds the row, so a concurrent sign-out
 * either came first (and this returns false) or waits for the commit.
 */
export async function holdLiveSession(trx: Db, jti: string, now: string): Promise<boolean> {
  const result = await trx
    .updateTable('sessions')
    .set((eb) => ({ revoked_at: eb.ref('revoked_at') }))
    .where('jti', '=', jti)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function revokeSession(db: Db, jti: string, revokedAt: string): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: revokedAt }).where('jti', '=', jti).where('revoked_at', 'is', null).execute();
}

/** The account's live sessions (not revoked, not expired), newest first. */
export function listLiveSessions(db: Db, userId: string, now: string) {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('jti')
    .execute();
}

/** Ends one live session of the account; returns whether there was one. */
export async function revokeSessionOfUser(db: Db, userId: string, jti: string, revokedAt: string): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('jti', '=', jti)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', revokedAt)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Ends every live session of the account, in one statement; returns the ended ones' ids. */
export async function revokeSessionsOfUser(db: Db, userId: string, revokedAt: string): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', revokedAt)
    .returning('jti')
    .execute();
  return rows.map((row) => row.jti);
}

/** Ends every live session of the account but `keep`, in one statement; returns the ended ones' ids. */
export async function revokeOtherSessions(db: Db, userId: string, keep: string, revokedAt: string): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('user_id', '=', userId)
    .where('jti', '!=', keep)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', revokedAt)
    .returning('jti')
    .execute();
  return rows.map((row) => row.jti);
}

/** Ends the sessions a passkey opened, but `keep` (the caller's own); returns the ended ones' ids. */
export async function revokeSessionsOfCredential(db: Db, credentialId: string, keep: string, revokedAt: string): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('credential_id', '=', credentialId)
    .where('jti', '!=', keep)
    .where('revoked_at', 'is', null)
    .returning('jti')
    .execute();
  return rows.map((row) => row.jti);
}
