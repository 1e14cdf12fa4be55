// The server secret: random, created on the first start and shared by every instance
// through the database; it never leaves it. It keys the HMACs that must not be
// reversible to an email (the per-email rate-limit keys), so a key seen in Redis or a
// log cannot be tested against a list of emails.
import { randomBytes } from 'node:crypto';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { findSecret, insertSecretIfAbsent } from './db/keys.js';
import type { Db } from './db/schema.js';

// The stored row keeps its first name: renaming it would give running deployments a new secret.
const rowName = 'enumeration';

/** Loads the server secret, creating it if there is none yet (concurrent first starts agree on one). */
export async function loadServerSecret(db: Db, now: Date): Promise<Uint8Array> {
  await insertSecretIfAbsent(db, { name: rowName, value: isoBase64URL.fromBuffer(randomBytes(32)), created_at: now.toISOString() });
  const row = await findSecret(db, rowName);
  return isoBase64URL.toBuffer(row!.value);
}
