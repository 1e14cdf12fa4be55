import type { Db, SessionsTable } from './schema.js';

export async function insertSession(db: Db, session: SessionsTable): Promise<void> {
  await db.insertInto('sessions').values(session).execute();
}

export function findSession(db: Db, jti: string) {
  return db.selectFrom('sessions').selectAll().where('jti', '=', jti).executeTakeFirst();
}

export async function revokeSession(db: Db, jti: string, revokedAt: string): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('jti', '=', jti)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Ends the sessions a passkey opened, but `keep` (the caller's own). */
export async function revokeSessionsOfCredential(db: Db, credentialId: string, keep: string, revokedAt: string): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: revokedAt })
    .where('credential_id', '=', credentialId)
    .where('jti', '!=', keep)
    .where('revoked_at', 'is', null)
    .execute();
}
