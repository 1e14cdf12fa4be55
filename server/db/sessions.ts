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
