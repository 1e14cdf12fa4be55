// Sign-in assertion verification: the accept/reject of @simplewebauthn/server's
// verifyAuthenticationResponse (counter 0, one RP ID, the top origins as expectedTopOrigin),
// synchronous, each public key imported once per verifier (docs/adr/0001-own-assertion-verifier.md).
// Invariants: the library's decision input by input (tests/unit/assertion.test.ts), except that
// a cross-origin response needs configured top origins and ML-DSA keys are refused; the caller
// compares the counter; a check the caller records fails with AssertionFailed's fixed reason.
import { constants, createHash, createPublicKey, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ECDSASigValue } from '@peculiar/asn1-ecc';
import { AsnParser } from '@peculiar/asn1-schema';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { cose, isoBase64URL, isoCBOR, isoUint8Array, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { checkCrossOrigin } from './cross-origin.js';

export interface AssertionExpectations {
  challenge: string;
  origins: string[];
  /** Pages that may frame the ceremony (config.topOrigins); empty: none may. */
  topOrigins: readonly string[];
  rpId: string;
  requireUserVerification: boolean;
}

export interface VerifiedAssertion {
  newCounter: number;
  userVerified: boolean;
  credentialBackedUp: boolean;
  credentialDeviceType: 'singleDevice' | 'multiDevice';
}

const { COSEALG, COSECRV, COSEKEYS, COSEKTY } = cose;

/** What a failed check was, as a fixed code that quotes nothing the client sent. */
export type AssertionFailure = 'challenge_mismatch' | 'origin_mismatch' | 'rp_id_mismatch' | 'user_not_present' | 'user_not_verified' | 'bad_signature';

export class AssertionFailed extends Error {
  constructor(
    readonly reason: AssertionFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The @simplewebauthn/server version whose decisions the verifier was checked against. */
export const CHECKED_AGAINST_SIMPLEWEBAUTHN = '14.0.3';

export interface AssertionVerifier {
  /** Throws an Error (message says why) when the assertion does not verify. */
  verify(response: AuthenticationResponseJSON, publicKeyHex: string, expected: AssertionExpectations): VerifiedAssertion;
}

/**
 * A verifier with caches of its own (imported public keys, RP ID hashes): built once
 * per app, so two apps in one process share nothing.
 */
export function createAssertionVerifier({ keyCacheSize = 10_000 } = {}): AssertionVerifier {
  const rpIdHashes = new Map<string, Buffer>();
  // Bounded, oldest out first; a key that cannot be imported is not cached and throws every time.
  const keys = new Map<string, PublicKey>();

  // Hashed as matchExpectedRPID hashes it (one byte per UTF-16 unit).
  function hashOfRpId(rpId: string): Buffer {
    let hash = rpIdHashes.get(rpId);
    if (!hash) {
      hash = createHash('sha256').update(isoUint8Array.fromASCIIString(rpId)).digest();
      rpIdHashes.set(rpId, hash);
    }
    return hash;
  }

  function publicKeyFor(publicKeyHex: string): PublicKey {
    let key = keys.get(publicKeyHex);
    if (!key) {
      key = importCoseKey(isoCBOR.decodeFirst<unknown>(isoUint8Array.fromHex(publicKeyHex)));
      keys.set(publicKeyHex, key);
      if (keys.size > keyCacheSize) keys.delete(keys.keys().next().value!);
    }
    return key;
  }

  function verify(response: AuthenticationResponseJSON, publicKeyHex: string, expected: AssertionExpectations): VerifiedAssertion {
    const { id, rawId, type, response: assertion } = response;
    if (!id) throw new Error('Missing credential ID');
    if (id !== rawId) throw new Error('Credential ID was not base64url-encoded');
    if (type !== 'public-key') throw new Error(`Unexpected credential type ${String(type)}, expected "public-key"`);
    const clientDataJSON: unknown = assertion?.clientDataJSON;
    if (typeof clientDataJSON !== 'string') throw new Error('Credential response clientDataJSON was not a string');
    const clientDataBytes = isoBase64URL.toBuffer(clientDataJSON);
    checkClientData(JSON.parse(utf8.decode(clientDataBytes)), expected);

    const { authenticatorData, signature, userHandle } = assertion;
    if (!isBase64URL(authenticatorData)) throw new Error('Credential response authenticatorData was not a base64url string');
    if (!isBase64URL(signature)) throw new Error('Credential response signature was not a base64url string');
    if (userHandle && typeof userHandle !== 'string') throw new Error('Credential response userHandle was not a string');

    // Throws on short data, leftover bytes, or an ED/AT flag without well-formed data behind it.
    const authData = isoBase64URL.toBuffer(authenticatorData);
    const { rpIdHash, flags, counter } = parseAuthenticatorData(authData);
    if (!timingSafeEqual(rpIdHash, hashOfRpId(expected.rpId))) throw new AssertionFailed('rp_id_mismatch', 'Unexpected RP ID hash');
    if (!flags.up) throw new AssertionFailed('user_not_present', 'User not present during authentication');
    if (expected.requireUserVerification && !flags.uv)
      throw new AssertionFailed('user_not_verified', 'User verification required, but user could not be verified');
    // Backup state without backup eligibility is impossible (parseBackupFlags).
    if (flags.bs && !flags.be) throw new Error('Single-device credential indicated that it was backed up');

    const key = publicKeyFor(publicKeyHex);
    const signedData = Buffer.concat([authData, createHash('sha256').update(clientDataBytes).digest()]);
    if (!key.verify(signedData, isoBase64URL.toBuffer(signature))) throw new AssertionFailed('bad_signature', 'Signature did not verify');
    return {
      newCounter: counter,
      userVerified: flags.uv,
      credentialBackedUp: flags.bs,
      credentialDeviceType: flags.be ? 'multiDevice' : 'singleDevice',
    };
  }

  return { verify };
}

// TextDecoder, as simplewebauthn decodes clientDataJSON: invalid UTF-8 is replaced, a BOM dropped.
const utf8 = new TextDecoder();

// base64url is read with simplewebauthn's helpers, not Buffer's: they read malformed strings
// their own way, and the signature covers what they produce.
// simplewebauthn's test: padding ('=' anywhere) removed, then only base64url characters.
const isBase64URL = (value: unknown): value is string => typeof value === 'string' && isoBase64URL.isBase64URL(value);

/** The clientDataJSON checks, with simplewebauthn's truthiness rules for each field. */
function checkClientData(parsed: unknown, expected: AssertionExpectations): void {
  if (parsed === null) throw new Error('clientDataJSON was null');
  const { type, challenge, origin, crossOrigin, topOrigin, tokenBinding } = parsed as Record<string, unknown>;
  if (type !== 'webauthn.get') throw new Error(`Unexpected authentication response type: ${String(type)}`);
  if (challenge !== expected.challenge) throw new AssertionFailed('challenge_mismatch', 'Unexpected authentication response challenge');
  checkCrossOrigin({ crossOrigin, topOrigin }, expected.topOrigins);
  if (!expected.origins.includes(origin as string))
    throw new AssertionFailed('origin_mismatch', `Unexpected authentication response origin "${String(origin)}"`);
  if (tokenBinding) {
    if (typeof tokenBinding !== 'object') throw new Error('ClientDataJSON tokenBinding was not an object');
    const { status } = tokenBinding as Record<string, unknown>;
    if (status !== 'present' && status !== 'supported' && status !== 'notSupported') {
      throw new Error(`Unexpected tokenBinding status ${String(status)}`);
    }
  }
}

// --- Public keys: decoded and imported once --------------------------------------------

interface PublicKey {
  /** Whether `signature` signs `data`; throws where simplewebauthn throws (a malformed ECDSA signature). */
  verify(data: Uint8Array, signature: Uint8Array): boolean;
}

/** A COSE_Key as verifyAuthenticationResponse and isoCrypto.verify read it. */
function importCoseKey(coseKey: unknown): PublicKey {
  if (!(coseKey instanceof Map)) throw new Error('Credential public key is not a COSE map');
  const field = (label: number): unknown => coseKey.get(label);
  const alg = field(COSEKEYS.alg);
  if (typeof alg !== 'number') throw new Error('Credential public key was missing numeric alg');
  // ML-DSA needs WebCrypto support this runtime lacks, and the service never registers such a key.
  if (cose.isPQCCOSEAlg(alg)) throw new Error(`Unsupported public key algorithm ${alg} (ML-DSA)`);
  switch (field(COSEKEYS.kty)) {
    case COSEKTY.EC2:
      return importEC2(alg, field(COSEKEYS.crv), field(COSEKEYS.x), field(COSEKEYS.y));
    case COSEKTY.OKP:
      return importOKP(alg, field(COSEKEYS.crv), field(COSEKEYS.x));
    case COSEKTY.RSA:
      return importRSA(alg, field(COSEKEYS.n), field(COSEKEYS.e));
    default:
      throw new Error(`Signature verification with public key of kty ${String(field(COSEKEYS.kty))} is not supported`);
  }
}

// JWK members encoded as simplewebauthn encodes them (new Uint8Array(value), whatever CBOR type it is).
const jwkMember = (value: unknown): string => isoBase64URL.fromBuffer(value as Uint8Array<ArrayBuffer>);

// verifyEC2: the curve gives the key, the alg alone gives the hash (P-256 with alg -8 hashes with SHA-512).
function importEC2(alg: number, crv: unknown, x: unknown, y: unknown): PublicKey {
  const [name, size] = ecCurve(crv);
  if (!alg || !x || !y) throw new Error('Public key was missing alg, x or y (EC2)');
  const hash = hashForAlg(alg);
  const key = createPublicKey({ key: { kty: 'EC', crv: name, x: jwkMember(x), y: jwkMember(y) }, format: 'jwk' });
  return {
    // Nearly every signature is strict DER, which OpenSSL reads itself: one that verifies
    // so is accepted by simplewebauthn too (same r and s). Any other is decided as
    // simplewebauthn decides it, through the lenient parser below.
    verify: (data, signature) =>
      verifiesAsStrictDer(hash, data, key, signature) || cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, ecdsaSignatureToP1363(signature, size)),
  };
}

function verifiesAsStrictDer(hash: string, data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(hash, data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** The JWK curve name and the byte length of r and s (getSignatureComponentLength). */
function ecCurve(crv: unknown): [string, number] {
  switch (crv) {
    case COSECRV.P256:
      return ['P-256', 32];
    case COSECRV.P384:
      return ['P-384', 48];
    case COSECRV.P521:
      return ['P-521', 66];
    default:
      throw new Error(`Unexpected COSE crv value of ${String(crv)} (EC2)`);
  }
}

// verifyOKP: any known COSE alg, curve Ed25519 only.
function importOKP(alg: number, crv: unknown, x: unknown): PublicKey {
  if (!alg || !cose.isCOSEAlg(alg)) throw new Error(`Public key had invalid alg ${alg} (OKP)`);
  if (crv !== COSECRV.ED25519) throw new Error(`Unexpected COSE crv value of ${String(crv)} (OKP)`);
  if (!x) throw new Error('Public key was missing x (OKP)');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwkMember(x) }, format: 'jwk' });
  return { verify: (data, signature) => cryptoVerify(null, data, key, signature) };
}

// verifyRSA: RS1/RS256/RS384/RS512 are PKCS#1 v1.5, PS256/PS384/PS512 are PSS with a salt as long as the hash.
function importRSA(alg: number, n: unknown, e: unknown): PublicKey {
  if (!alg || !cose.isCOSEAlg(alg)) throw new Error(`Public key had invalid alg ${alg} (RSA)`);
  if (!n || !e) throw new Error('Public key was missing n or e (RSA)');
  const pss = alg === COSEALG.PS256 || alg === COSEALG.PS384 || alg === COSEALG.PS512;
  const pkcs1 = alg === COSEALG.RS1 || alg === COSEALG.RS256 || alg === COSEALG.RS384 || alg === COSEALG.RS512;
  if (!pss && !pkcs1) throw new Error(`Unexpected RSA key algorithm ${alg}`);
  const hash = hashForAlg(alg);
  const key = createPublicKey({ key: { kty: 'RSA', n: jwkMember(n), e: jwkMember(e) }, format: 'jwk' });
  const options = pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: saltLengths[hash] } : { key, padding: constants.RSA_PKCS1_PADDING };
  return { verify: (data, signature) => cryptoVerify(hash, data, options, signature) };
}

const saltLengths: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** mapCoseAlgToWebCryptoHashAlgName, as node:crypto names. */
function hashForAlg(alg: number): string {
  switch (alg) {
    case COSEALG.RS1:
      return 'sha1';
    case COSEALG.ES256:
    case COSEALG.PS256:
    case COSEALG.RS256:
      return 'sha256';
    case COSEALG.ES384:
    case COSEALG.PS384:
    case COSEALG.RS384:
      return 'sha384';
    case COSEALG.ES512:
    case COSEALG.PS512:
    case COSEALG.RS512:
    case COSEALG.EdDSA:
      return 'sha512';
    default:
      throw new Error(`Could not map COSE alg value of ${alg} to a hash algorithm`);
  }
}

// --- ECDSA signatures: DER (read leniently, as BER) to r || s ---------------------------
//
// Parsed with the schema and parser simplewebauthn's unwrapEC2Signature uses, so that
// exactly the encodings it accepts are accepted; r and s are then sized as it sizes them.

/** An ECDSA-Sig-Value as raw r || s, each `size` bytes. Throws where unwrapEC2Signature throws. */
function ecdsaSignatureToP1363(signature: Uint8Array, size: number): Uint8Array {
  const { r, s } = AsnParser.parse(signature, ECDSASigValue);
  const raw = new Uint8Array(2 * size);
  raw.set(fixedLength(new Uint8Array(r), size), 0);
  raw.set(fixedLength(new Uint8Array(s), size), size);
  return raw;
}

/** toNormalizedBytes: left-pad with zeros, or drop one leading 0x00 that only marks a positive number. */
function fixedLength(integer: Uint8Array, size: number): Uint8Array {
  if (integer.length === size) return integer;
  if (integer.length < size) {
    const padded = new Uint8Array(size);
    padded.set(integer, size - integer.length);
    return padded;
  }
  if (integer.length === size + 1 && integer[0] === 0 && (integer[1]! & 0x80) === 0x80) return integer.subarray(1);
  throw new Error(`Invalid signature component length ${integer.length}, expected ${size}`);
}
