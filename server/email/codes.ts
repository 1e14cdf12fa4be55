// One-time codes sent by email. Invariants:
// - 6 digits from the CSPRNG (crypto.randomInt); only an HMAC of the row id and the code,
//   under the server secret, is stored, and a guess is compared with timingSafeEqual.
// - A code lives EMAIL_CODE_TTL_SECONDS and dies after 5 tries (the right one included);
//   each try is spent (one UPDATE ... attempts + 1 ... RETURNING) before the guess is
//   compared, so concurrent guesses cannot share one try.
// - A new code for an email and purpose deletes the previous one.
// - The caller uses a right code up with consumeCode (DELETE ... RETURNING) in the
//   transaction of what it unlocks: of concurrent right answers, one wins.
import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Deps } from '../deps.js';
import type { Db, EmailCodePurpose, EmailCodesTable } from '../db/schema.js';
import { AppError } from '../errors.js';

export const maxCodeAttempts = 5;

const hmac = (secret: Uint8Array, label: string) => createHmac('sha256', secret).update(label).digest('base64url');

/** The email as the codes table knows it: a keyed hash, so no address is stored for an email without an account. */
export const emailKey = (secret: Uint8Array, email: string) => hmac(secret, `emailKey:${email}`);

const codeHash = (secret: Uint8Array, id: string, code: string) => hmac(secret, `emailCode:${id}:${code}`);

export const invalidCode = (reason: string) => new AppError('invalid_code', 'This code is wrong, used or expired: ask for a new one', { reason });

/** Makes a code for `email`, killing its previous one of the same purpose; returns the row id and the code. */
export async function issueCode(
  trx: Db,
  deps: Pick<Deps, 'serverSecret' | 'now' | 'config'>,
  fields: { purpose: EmailCodePurpose; userId: string | null; email: string },
): Promise<{ id: string; code: string }> {
  const id = randomUUID();
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const key = emailKey(deps.serverSecret, fields.email);
  const now = deps.now();
  await trx.deleteFrom('email_codes').where('email_key', '=', key).where('purpose', '=', fields.purpose).execute();
  await trx
    .insertInto('email_codes')
    .values({
      id,
      purpose: fields.purpose,
      user_id: fields.userId,
      email_key: key,
      code_hash: codeHash(deps.serverSecret, id, code),
      attempts: 0,
      expires_at: new Date(now.getTime() + deps.config.email.codeTtlSeconds * 1000).toISOString(),
      created_at: now.toISOString(),
    })
    .execute();
  return { id, code };
}

/**
 * Spends one try of the live code that `where` names and checks `code` against it;
 * returns the row when it matches (still to be consumed), else throws invalid_code.
 */
export async function checkCode(
  deps: Pick<Deps, 'db' | 'serverSecret' | 'now'>,
  where: { id: string } | { userId: string },
  purpose: EmailCodePurpose,
  code: string,
): Promise<EmailCodesTable> {
  let query = deps.db
    .updateTable('email_codes')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('purpose', '=', purpose)
    .where('attempts', '<', maxCodeAttempts)
    .where('expires_at', '>', deps.now().toISOString());
  query = 'id' in where ? query.where('id', '=', where.id) : query.where('user_id', '=', where.userId);
  const row = await query.returningAll().executeTakeFirst();
  if (!row) throw invalidCode('no live code');
  const expected = Buffer.from(row.code_hash);
  const actual = Buffer.from(codeHash(deps.serverSecret, row.id, code));
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalidCode(`wrong code, try ${row.attempts}`);
  return row;
}

/** Uses a checked code up, in the caller's transaction; throws invalid_code if another request did first. */
export async function consumeCode(trx: Db, id: string): Promise<void> {
  const used = await trx.deleteFrom('email_codes').where('id', '=', id).returning('id').executeTakeFirst();
  if (!used) throw invalidCode('used by a concurrent request');
}
