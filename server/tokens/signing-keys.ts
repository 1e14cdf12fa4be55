// Signing keys live in the database, so tokens survive restarts and every
// instance signs and verifies with the same keys. The first start creates an
// ES256 key pair; concurrent first starts race on `generation = 1` and exactly
// one insert wins (the others read the winner back). The newest generation signs;
// every stored key is published in the JWKS so tokens outlive a future rotation.
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, type JSONWebKeySet } from 'jose';
import { insertSecretIfAbsent, insertSigningKeyIfAbsent, findSecret, listSigningKeys } from '../db/keys.js';
import type { Db } from '../db/schema.js';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { randomBytes } from 'node:crypto';

export const tokenAlgorithm = 'ES256';

export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  jwks: JSONWebKeySet;
  keySet: ReturnType<typeof createLocalJWKSet>;
}

async function createFirstKey(db: Db, now: Date): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair(tokenAlgorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await insertSigningKeyIfAbsent(db, {
    kid,
    generation: 1,
    algorithm: tokenAlgorithm,
    private_jwk: JSON.stringify(await exportJWK(privateKey)),
    public_jwk: JSON.stringify(publicJwk),
    created_at: now.toISOString(),
  });
}

export async function loadSigningKeys(db: Db, now: Date): Promise<SigningKeys> {
  let rows = await listSigningKeys(db);
  if (rows.length === 0) {
    await createFirstKey(db, now);
    rows = await listSigningKeys(db);
  }
  const current = rows[0]!;
  const jwks: JSONWebKeySet = {
    keys: rows.map((row) => ({ ...(JSON.parse(row.public_jwk) as JWK), kid: row.kid, alg: row.algorithm, use: 'sig' })),
  };
  const privateKey = (await importJWK(JSON.parse(current.private_jwk) as JWK, current.algorithm)) as CryptoKey;
  return { kid: current.kid, privateKey, jwks, keySet: createLocalJWKSet(jwks) };
}

// A random server secret, created once and shared by every instance.
export async function loadSecret(db: Db, name: string, now: Date): Promise<Uint8Array> {
  await insertSecretIfAbsent(db, {
    name,
    value: isoBase64URL.fromBuffer(randomBytes(32)),
    created_at: now.toISOString(),
  });
  const row = await findSecret(db, name);
  return isoBase64URL.toBuffer(row!.value);
}
