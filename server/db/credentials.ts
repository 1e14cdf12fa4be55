import { prepare } from './prepared.js';
import type { CredentialsTable, Db } from './schema.js';

export function findCredentialById(db: Db, id: string) {
  return db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirst();
}

// The sign-in path's queries are prepared (compiled once, see prepared.ts).
const credentialWithUser = prepare((db, { id }: { id: string }) =>
  db
    .selectFrom('credentials')
    .innerJoin('users', 'users.id', 'credentials.user_id')
    .selectAll('credentials')
    .select(['users.email', 'users.user_handle', 'users.email_verified_at', 'users.external_id'])
    .where('credentials.id', '=', id),
);

/** A credential with the account it belongs to, in one read. */
export async function findCredentialWithUser(db: Db, id: string) {
  return (await credentialWithUser(db, { id })).rows[0];
}

export function listCredentialsByUser(db: Db, userId: string) {
  return db.selectFrom('credentials').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
}

export async function insertCredential(db: Db, credential: CredentialsTable): Promise<void> {
  await db.insertInto('credentials').values(credential).execute();
}

// Compare-and-set on the counter: of two concurrent sign-ins with one credential,
// only the one that read the current counter may write the next. Returns whether it did.
const credentialUse = prepare((db, use: { id: string; expectedCounter: number; counter: number; backedUp: number; usedAt: string }) =>
  db
    .updateTable('credentials')
    .set({ counter: use.counter, backed_up: use.backedUp, last_used_at: use.usedAt })
    .where('id', '=', use.id)
    .where('counter', '=', use.expectedCounter),
);

export async function recordCredentialUse(
  db: Db,
  use: { id: string; expectedCounter: number; counter: number; backedUp: boolean; usedAt: string },
): Promise<boolean> {
  const result = await credentialUse(db, { ...use, backedUp: use.backedUp ? 1 : 0 });
  return result.numAffectedRows === 1n;
}

export async function renameCredential(db: Db, userId: string, id: string, name: string): Promise<boolean> {
  const result = await db.updateTable('credentials').set({ name }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function deleteCredential(db: Db, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('credentials').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows === 1n;
}
