// Whether a mutated WebAuthn response still passes every check the service must make,
// decided independently of the service: the spec's rules, with the library's decoders.
import { createPublicKey, verify } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  decodeClientDataJSON,
  decodeCredentialPublicKey,
  isoBase64URL,
  isoCBOR,
  isoUint8Array,
  parseAuthenticatorData,
  verifySignature,
} from '@simplewebauthn/server/helpers';
import type { StoredCredential } from '../../helpers/authenticator.js';
import { b64, bytesOf, sameBytes, sha256 } from './bytes.js';
import type { Outcome } from './oracles.js';
import type { World } from './world.js';

/**
 * 'pass': the mutated response passes every check the service must make, 'fail': it does not,
 * lenient: it fails only a check that SimpleWebAuthn 14 does not make, so the service
 * inherits the leniency: then either answer goes, and the database must match the one given.
 * The leniencies seen (and how often the service accepted them) are printed at the end.
 */
export type Verdict = 'pass' | 'fail' | { lenient: string };
const lenient = (what: string): Verdict => ({ lenient: what });
export const leniencies: Record<string, { seen: number; accepted: number }> = {};

export function outcomesFor(verdict: Verdict, accepted: Outcome, refused: Outcome): Outcome | Outcome[] {
  if (verdict === 'pass') return accepted;
  if (verdict === 'fail') return refused;
  const tally = (leniencies[verdict.lenient] ??= { seen: 0, accepted: 0 });
  tally.seen += 1;
  return [{ ...accepted, check: () => void (tally.accepted += 1) }, refused];
}

/**
 * ES256 on P-256, EdDSA on Ed25519 or RS256 with e = 65537 and a 2048- to 4096-bit modulus,
 * labelled so, that node:crypto imports.
 */
function registrableKey(key: { get(label: number): unknown }): boolean {
  const member = (label: number, length?: number) => {
    const value = key.get(label);
    if (!(value instanceof Uint8Array) || value.length === 0 || (length !== undefined && value.length !== length)) throw new Error(`member ${label}`);
    return b64(value);
  };
  const importJwk = (jwk: Record<string, string>) => createPublicKey({ key: jwk, format: 'jwk' });
  const [kty, alg, crv] = [key.get(1), key.get(3), key.get(-1)];
  try {
    if (kty === 2 && alg === -7 && crv === 1) return Boolean(importJwk({ kty: 'EC', crv: 'P-256', x: member(-2, 32), y: member(-3, 32) }));
    if (kty === 1 && alg === -8 && crv === 6) return Boolean(importJwk({ kty: 'OKP', crv: 'Ed25519', x: member(-2, 32) }));
    if (kty === 3 && alg === -257) {
      const details = importJwk({ kty: 'RSA', n: member(-1), e: member(-2) }).asymmetricKeyDetails!;
      return details.publicExponent === 65537n && details.modulusLength! >= 2048 && details.modulusLength! <= 4096;
    }
    return false;
  } catch {
    return false;
  }
}

/**
 * Whether a registration response still passes every check the service makes: with
 * attestation 'none' nothing is signed, so "harmless" means exactly this. The rules are
 * those of WebAuthn §7.1 as SimpleWebAuthn's verifyRegistrationResponse applies them (type,
 * challenge, origin, token binding, fmt 'none' with an empty statement, RP ID hash, UP and
 * UV, backup flags, a credential id and a key with a supported alg) plus the service's own:
 * the id the client names is the attested one, the key is one of the three it registers
 * (registrableKey), and no cross-origin framing (the world sets no TOP_ORIGINS). Parsing
 * uses the library's own decoders.
 */
export function registrationVerdict(world: World, registration: RegistrationResponseJSON, challenge: string): Verdict {
  const { config } = world.service.deps;
  try {
    if (!registration.id || registration.id !== registration.rawId || registration.type !== 'public-key') return 'fail';
    const clientData = decodeClientDataJSON(registration.response.clientDataJSON);
    if (clientData.type !== 'webauthn.create' || clientData.challenge !== challenge) return 'fail';
    if (!config.origins.includes(clientData.origin)) return 'fail';
    if (clientData.crossOrigin || clientData.topOrigin) return 'fail';
    const binding = clientData.tokenBinding as { status?: unknown } | undefined;
    if (binding && (typeof binding !== 'object' || !['present', 'supported', 'not-supported'].includes(binding.status as string))) {
      return 'fail';
    }
    const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(isoBase64URL.toBuffer(registration.response.attestationObject));
    const authData = parseAuthenticatorData(attestation.get('authData') as Uint8Array<ArrayBuffer>);
    if (!isoUint8Array.areEqual(bytesOf(authData.rpIdHash), sha256(config.rpId))) return 'fail';
    if (!authData.flags.up || (config.userVerification === 'required' && !authData.flags.uv)) return 'fail';
    if (authData.flags.bs && !authData.flags.be) return 'fail';
    if (!authData.credentialID || !authData.credentialPublicKey || !authData.aaguid) return 'fail';
    if (b64(authData.credentialID) !== registration.id) return 'fail';
    if (!registrableKey(decodeCredentialPublicKey(authData.credentialPublicKey))) return 'fail';
    if (attestation.get('fmt') !== 'none') return 'fail';
    const statement = attestation.get('attStmt');
    if (statement instanceof Map) return statement.size === 0 ? 'pass' : 'fail';
    // 'none' wants attStmt to be an empty map; SimpleWebAuthn 14 only rejects a non-empty one
    // (`attStmt.size > 0`), so bytes, a string, a number or an array get through.
    return statement === undefined || statement === null ? 'fail' : lenient('registration: attStmt of fmt "none" is not a map');
  } catch {
    return 'fail';
  }
}

/**
 * Whether a mutated assertion is still the one the authenticator signed: the same id,
 * rawId and type, the same bytes of everything signed (clientDataJSON, authenticatorData)
 * and a signature that verifies over them as the WebAuthn spec has it (ES256: ASN.1 DER;
 * Node's OpenSSL verifier is strict), and the same userHandle (which may be left out when
 * the sign-in already names the account). Everything else (extension results, attachment,
 * unknown members) is neither signed nor checked.
 */
export async function assertionVerdict(
  original: AuthenticationResponseJSON,
  sent: AuthenticationResponseJSON,
  boundToUser: boolean,
  credential: StoredCredential,
): Promise<Verdict> {
  if (sent.id !== original.id || sent.rawId !== original.rawId || sent.type !== original.type) return 'fail';
  if (!sameBytes(sent.response.clientDataJSON, original.response.clientDataJSON)) return 'fail';
  if (!sameBytes(sent.response.authenticatorData, original.response.authenticatorData)) return 'fail';
  const userHandle = sent.response.userHandle;
  if (userHandle !== original.response.userHandle && !(boundToUser && !userHandle)) return 'fail';
  if (sameBytes(sent.response.signature, original.response.signature)) return 'pass';
  const signed = isoUint8Array.concat([
    isoBase64URL.toBuffer(original.response.authenticatorData),
    sha256(isoBase64URL.toBuffer(original.response.clientDataJSON)),
  ]);
  const signature = isoBase64URL.toBuffer(sent.response.signature);
  const publicKey = createPublicKey(credential.privateKey);
  if (verify(credential.algorithm === 'ES256' ? 'sha256' : null, signed, publicKey, signature)) return 'pass';
  // SimpleWebAuthn 14 unwraps an ES256 signature with @peculiar/asn1-schema, which takes BER,
  // not only DER: another tag or length byte, or bytes after the SEQUENCE, and the same
  // (r, s) still verifies.
  try {
    if (await verifySignature({ signature, data: signed, credentialPublicKey: credential.publicKey })) {
      return lenient('sign-in: an ES256 signature that is not DER but still verifies');
    }
  } catch {
    // not a signature at all
  }
  return 'fail';
}
