// The signed-in user's own account: profile and passkeys. Every query is scoped
// by the user id from the verified token, so another user's passkey is simply
// not found (404), never "forbidden". An account always keeps one passkey.
import type { Deps } from './deps.js';
import { countCredentials, deleteCredential, findCredentialById, listCredentialsByUser, renameCredential } from './db/credentials.js';
import { findUserById, lockUser } from './db/users.js';
import { AppError } from './errors.js';
import { toCredentialJSON, type CredentialJSON } from './ceremonies/credential-json.js';

export async function getProfile(deps: Deps, userId: string) {
  const user = await findUserById(deps.db, userId);
  if (!user) throw new AppError('unauthorized', 'The account no longer exists');
  return { userId: user.id, email: user.email, displayName: user.display_name, createdAt: user.created_at };
}

export async function listPasskeys(deps: Deps, userId: string): Promise<CredentialJSON[]> {
  return (await listCredentialsByUser(deps.db, userId)).map(toCredentialJSON);
}

const notFound = () => new AppError('not_found', 'No such passkey on this account');

export async function renamePasskey(deps: Deps, userId: string, id: string, name: string): Promise<CredentialJSON> {
  if (!(await renameCredential(deps.db, userId, id, name))) throw notFound();
  return toCredentialJSON((await findCredentialById(deps.db, id))!);
}

export async function deletePasskey(deps: Deps, userId: string, id: string): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    // Serialise deletions per account, so two concurrent deletes cannot both pass the guard.
    await lockUser(trx, userId);
    const count = await countCredentials(trx, userId);
    if (!(await findCredentialById(trx, id).then((row) => row?.user_id === userId))) throw notFound();
    if (count <= 1) throw new AppError('last_credential', 'This is the only passkey of the account: add another before deleting it');
    await deleteCredential(trx, userId, id);
  });
}
