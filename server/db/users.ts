import type { Db, UsersTable } from './schema.js';

export function findUserById(db: Db, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findUserByEmail(db: Db, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function insertUser(db: Db, user: UsersTable): Promise<void> {
  await db.insertInto('users').values(user).execute();
}

// Takes the account's row lock (PostgreSQL) or the write lock (SQLite) for the
// rest of the transaction: a portable SELECT ... FOR UPDATE.
export async function lockUser(db: Db, id: string): Promise<void> {
  await db.updateTable('users').set({ id }).where('id', '=', id).execute();
}
