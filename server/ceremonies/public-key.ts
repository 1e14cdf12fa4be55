// The public keys a passkey may register with. Invariants:
// - Only three: ES256 (kty EC2, crv P-256), EdDSA (kty OKP, crv Ed25519) and RS256
//   (kty RSA, e = 65537, a 2048- to 4096-bit modulus). The alg, kty and crv must agree:
//   simplewebauthn checks only the alg at registration, and a key it stores under a
//   wrong label is one nobody can sign in with.
// - The key is imported once, here, by node:crypto from a JWK built from the COSE map:
//   an EC point off its curve, or bytes that are no key, fail the import.
// - Why RSA is pinned: e = 1 makes every signature forgeable, a huge e makes each
//   verification cost milliseconds of event-loop time, and a short modulus is breakable.
// - Anything else throws an Error whose message says why; nothing is stored.
// - Sign-in (assertion.ts) imports stored keys its own way, as simplewebauthn reads them,
//   so that keys stored before this rule still verify as they did.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { cose, isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers';

const { COSEALG, COSECRV, COSEKEYS, COSEKTY } = cose;

const rsaExponent = 65537n;
const rsaModulusBits = { min: 2048, max: 4096 };

/** Imports a COSE_Key the service accepts at registration; throws an Error saying why not. */
export function importRegistrationPublicKey(cosePublicKey: Uint8Array<ArrayBuffer>): KeyObject {
  const coseKey = isoCBOR.decodeFirst<unknown>(cosePublicKey);
  if (!(coseKey instanceof Map)) throw new Error('Credential public key is not a COSE map');
  const field = (label: number): unknown => coseKey.get(label);
  const [alg, kty, crv] = [field(COSEKEYS.alg), field(COSEKEYS.kty), field(COSEKEYS.crv)];
  if (alg === COSEALG.ES256 && kty === COSEKTY.EC2 && crv === COSECRV.P256) {
    const [x, y] = [bytes(field(COSEKEYS.x), 32, 'x'), bytes(field(COSEKEYS.y), 32, 'y')];
    return importJwk({ kty: 'EC', crv: 'P-256', x, y });
  }
  if (alg === COSEALG.EdDSA && kty === COSEKTY.OKP && crv === COSECRV.ED25519) {
    return importJwk({ kty: 'OKP', crv: 'Ed25519', x: bytes(field(COSEKEYS.x), 32, 'x') });
  }
  if (alg === COSEALG.RS256 && kty === COSEKTY.RSA) {
    const key = importJwk({ kty: 'RSA', n: bytes(field(COSEKEYS.n), undefined, 'n'), e: bytes(field(COSEKEYS.e), undefined, 'e') });
    const { modulusLength = 0, publicExponent } = key.asymmetricKeyDetails ?? {};
    if (publicExponent !== rsaExponent) {
      const got = publicExponent === undefined ? 'none' : publicExponent < 2n ** 64n ? String(publicExponent) : `of ${publicExponent.toString(2).length} bits`;
      throw new Error(`RSA public exponent ${got}, expected ${rsaExponent}`);
    }
    if (modulusLength < rsaModulusBits.min || modulusLength > rsaModulusBits.max) {
      throw new Error(`RSA modulus of ${modulusLength} bits, expected ${rsaModulusBits.min} to ${rsaModulusBits.max}`);
    }
    return key;
  }
  throw new Error(`Unsupported public key: alg ${String(alg)}, kty ${String(kty)}, crv ${String(crv)} (expected ES256 on P-256, EdDSA on Ed25519 or RS256)`);
}

/** A byte string member as base64url, of exactly `length` bytes when given. */
function bytes(value: unknown, length: number | undefined, name: string): string {
  if (!(value instanceof Uint8Array) || value.length === 0) throw new Error(`Public key member ${name} is not a byte string`);
  if (length !== undefined && value.length !== length) throw new Error(`Public key member ${name} has ${value.length} bytes, expected ${length}`);
  return isoBase64URL.fromBuffer(value as Uint8Array<ArrayBuffer>);
}

function importJwk(jwk: Record<string, string>): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new Error(`Public key could not be imported (${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''}): ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
