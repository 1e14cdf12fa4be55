// Signing keys live in the database, so tokens survive restarts and every
// instance signs and verifies with the same keys. The first start creates an
// ES256 key pair; concurrent first starts race on `generation = 1` and exactly
// one insert wins (the others read the winner back).
//
// Rotation (`npm run rotate-keys`, rotateSigningKeys) adds the next generation. Every
// stored key is published in the JWKS and verifies tokens; a new key signs only once
// it has been published for KEY_PUBLISH_SECONDS, by when every instance has reloaded
// its keys (every KEY_RELOAD_SECONDS) and every verifier's cached JWKS (max-age 300 s,
// stale-while-revalidate 60 s) has it. The first key signs at once: nobody can have
// cached a JWKS before it. A key is retired (deleted) by a later rotation once a newer
// one has been signing for longer than a session lives: no token it signed is alive.
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, type JSONWebKeySet } from 'jose';
import { deleteSigningKeys, insertSigningKeyIfAbsent, listSigningKeys } from '../db/keys.js';
import type { Db, SigningKeysTable } from '../db/schema.js';
import type { Deps } from '../deps.js';

export const tokenAlgorithm = 'ES256';
export const KEY_PUBLISH_SECONDS = 600;
export const KEY_RELOAD_SECONDS = 60;

export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  jwks: JSONWebKeySet;
  keySet: ReturnType<typeof createLocalJWKSet>;
}

async function createKey(db: Db, generation: number, now: Date): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair(tokenAlgorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await insertSigningKeyIfAbsent(db, {
    kid,
    generation,
    algorithm: tokenAlgorithm,
    private_jwk: JSON.stringify(await exportJWK(privateKey)),
    public_jwk: JSON.stringify(publicJwk),
    created_at: now.toISOString(),
  });
}

/** When a key starts signing: at once for the first, after KEY_PUBLISH_SECONDS for the others. */
const signsFrom = (key: SigningKeysTable) => Date.parse(key.created_at) + (key.generation === 1 ? 0 : KEY_PUBLISH_SECONDS * 1000);

/** The keys, newest first, with the first key created if there is none yet. */
async function storedKeys(db: Db, now: Date): Promise<SigningKeysTable[]> {
  const rows = await listSigningKeys(db);
  if (rows.length > 0) return rows;
  await createKey(db, 1, now);
  return listSigningKeys(db);
}

export async function loadSigningKeys(db: Db, now: Date): Promise<SigningKeys> {
  const rows = await storedKeys(db, now);
  // The newest key that may sign; the oldest one left, should a clock have gone back.
  const current = rows.find((row) => signsFrom(row) <= now.getTime()) ?? rows.at(-1)!;
  const jwks: JSONWebKeySet = {
    keys: rows.map((row) => ({ ...(JSON.parse(row.public_jwk) as JWK), kid: row.kid, alg: row.algorithm, use: 'sig' })),
  };
  const privateKey = (await importJWK(JSON.parse(current.private_jwk) as JWK, current.algorithm)) as CryptoKey;
  return { kid: current.kid, privateKey, jwks, keySet: createLocalJWKSet(jwks) };
}

/** Reads the keys again (a rotation by another process), in place: `deps.keys` stays the same object. */
export async function reloadSigningKeys(deps: Pick<Deps, 'db' | 'now' | 'keys'>): Promise<void> {
  Object.assign(deps.keys, await loadSigningKeys(deps.db, deps.now()));
}

/** Reloads the keys every KEY_RELOAD_SECONDS; returns a function that stops it. */
export function startReloadingKeys(deps: Deps): () => void {
  const timer = setInterval(() => {
    reloadSigningKeys(deps).catch((error: unknown) => deps.log.warn({ err: error }, 'could not reload the signing keys'));
  }, KEY_RELOAD_SECONDS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Adds the next key (it signs from `signsFrom`), and deletes the keys no live token
 * can have been signed with: those older than a key that has been signing for
 * longer than `sessionTtlSeconds`.
 */
export async function rotateSigningKeys(db: Db, now: Date, sessionTtlSeconds: number) {
  const rows = await storedKeys(db, now);
  await createKey(db, rows[0]!.generation + 1, now);
  const [added] = await listSigningKeys(db);
  const signedLongEnough = rows.find((row) => signsFrom(row) + sessionTtlSeconds * 1000 <= now.getTime());
  const retired = signedLongEnough ? rows.filter((row) => row.generation < signedLongEnough.generation).map((row) => row.kid) : [];
  await deleteSigningKeys(db, retired);
  return { kid: added!.kid, signsFrom: new Date(signsFrom(added!)), retired };
}
