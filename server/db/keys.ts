import type { Db, ServerSecretsTable, SigningKeysTable } from './schema.js';

// Inserts unless that generation exists already: when several instances start at
// once against an empty database, the unique generation lets exactly one key win.
export async function insertSigningKeyIfAbsent(db: Db, key: SigningKeysTable): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values(key)
    .onConflict((oc) => oc.column('generation').doNothing())
    .execute();
}

export function listSigningKeys(db: Db) {
  return db.selectFrom('signing_keys').selectAll().orderBy('generation', 'desc').execute();
}

export async function deleteSigningKeys(db: Db, kids: string[]): Promise<void> {
  if (kids.length > 0) await db.deleteFrom('signing_keys').where('kid', 'in', kids).execute();
}

export async function insertSecretIfAbsent(db: Db, secret: ServerSecretsTable): Promise<void> {
  await db
    .insertInto('server_secrets')
    .values(secret)
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

export function findSecret(db: Db, name: string) {
  return db.selectFrom('server_secrets').selectAll().where('name', '=', name).executeTakeFirst();
}
