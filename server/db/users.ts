import { AppError } from '../errors.js';
import type { Db, UsersTable } from './schema.js';

/** A sign-up for an email that has an account: the person should sign in instead. */
export const accountExists = (cause?: unknown) => new AppError('account_exists', 'An account with this email exists already: sign in instead', { cause });

export function findUserById(db: Db, id: string) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The account a verified token names; 401 when it has been deleted since. */
export async function requireUser(db: Db, id: string): Promise<UsersTable> {
  const user = await findUserById(db, id);
  if (!user) throw new AppError('unauthorized', 'The account no longer exists');
  return user;
}

export function findUserByEmail(db: Db, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

/** A new account's row; its email is unproven unless said otherwise. */
export type NewUser = Omit<UsersTable, 'email_verified_at' | 'external_id'> & Partial<Pick<UsersTable, 'email_verified_at' | 'external_id'>>;

export function findUserByExternalId(db: Db, externalId: string) {
  return db.selectFrom('users').selectAll().where('external_id', '=', externalId).executeTakeFirst();
}

export async function insertUser(db: Db, user: NewUser): Promise<void> {
  await db
    .insertInto('users')
    .values({ email_verified_at: null, external_id: null, ...user })
    .execute();
}

// Takes the account's row lock (PostgreSQL) or the write lock (SQLite) for the
// rest of the transaction: a portable SELECT ... FOR UPDATE.
export async function lockUser(db: Db, id: string): Promise<void> {
  await db.updateTable('users').set({ id }).where('id', '=', id).execute();
}
