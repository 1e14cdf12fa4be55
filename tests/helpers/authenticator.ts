/**
 * SoftAuthenticator: a software WebAuthn authenticator for tests.
 *
 * It stands in for browser + authenticator: createCredential() returns what
 * @simplewebauthn/browser's startRegistration() would, getAssertion() what startAuthentication()
 * would. Attestation is always 'none'. A `Tamper` object lets one response lie about a single
 * thing (origin, RP ID, flags, signature, counter, ...) so tests can check that the server notices.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

export type Algorithm = 'ES256' | 'Ed25519' | 'RS256';

export interface AuthenticatorOptions {
  origin?: string; // default 'http://localhost:3000'; used in clientDataJSON
  algorithm?: Algorithm; // default 'ES256' (COSE -7, EC2 P-256); 'Ed25519' is COSE -8, OKP crv 6; 'RS256' is COSE -257, kty RSA
  rsa?: { modulusLength?: number; publicExponent?: number }; // RS256 keys: default 2048 bits, e = 65537
  aaguid?: string; // default '00000000-0000-0000-0000-000000000000'
  backupEligible?: boolean; // BE flag, default false
  backedUp?: boolean; // BS flag, default false
  userVerification?: boolean; // whether this authenticator performs UV (UV flag), default true
  counterStart?: number; // default 0: signCount reported at registration
  countSignatures?: boolean; // default true: each assertion adds 1 (first = counterStart + 1); false => always 0
  transports?: string[]; // default ['internal', 'hybrid']
}

/** Knobs to tamper with one response. Everything optional; absent = honest. */
export interface Tamper {
  origin?: string; // put this origin in clientDataJSON
  crossOrigin?: unknown; // clientDataJSON.crossOrigin (default false), as a framed ceremony sends it
  topOrigin?: string; // clientDataJSON.topOrigin (default: none), the page that frames the ceremony
  rpId?: string; // hash this RP ID into authenticatorData instead of the options' one
  type?: string; // clientDataJSON.type (e.g. 'webauthn.get' inside a registration)
  challenge?: string; // base64url challenge to put in clientDataJSON instead of the options' one
  userPresent?: boolean; // UP flag (default true)
  userVerified?: boolean; // UV flag (default: the authenticator's userVerification)
  flipSignatureBit?: boolean; // assertion only: flip one bit of the signature after signing
  counter?: number; // assertion only: use this signCount (and do not advance the stored one)
  userHandle?: string | null; // assertion only: base64url userHandle to send; null = omit it
  credentialId?: string; // registration: create the credential with this id; assertion: the id/rawId to send (still signed by the real credential)
  coseKey?: Uint8Array; // registration only: attest these COSE_Key bytes instead of the real public key (nothing is signed at registration)
}

export interface StoredCredential {
  id: string; // base64url credential id (random 32 bytes)
  idHex: string;
  rpId: string;
  userHandle: string; // base64url, from options.user.id at creation
  algorithm: Algorithm;
  signCount: number; // last signCount reported
  publicKey: Uint8Array<ArrayBuffer>; // COSE-encoded, as a server stores it
  privateKey: KeyObject;
}

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;
const COSE_ALG: Record<Algorithm, number> = { ES256: -7, Ed25519: -8, RS256: -257 };

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: string | Uint8Array): Buffer => createHash('sha256').update(data).digest();

function domError(name: 'InvalidStateError' | 'NotAllowedError' | 'NotSupportedError', message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

export class SoftAuthenticator {
  readonly credentials: StoredCredential[] = [];
  private readonly opts: Required<AuthenticatorOptions>;

  constructor(options: AuthenticatorOptions = {}) {
    this.opts = {
      origin: 'http://localhost:3000',
      algorithm: 'ES256',
      aaguid: '00000000-0000-0000-0000-000000000000',
      backupEligible: false,
      backedUp: false,
      userVerification: true,
      counterStart: 0,
      countSignatures: true,
      transports: ['internal', 'hybrid'],
      rsa: {},
      ...options,
    };
  }

  async createCredential(options: PublicKeyCredentialCreationOptionsJSON, tamper: Tamper = {}): Promise<RegistrationResponseJSON> {
    const { algorithm } = this.opts;
    const rpId = options.rp.id ?? new URL(this.opts.origin).hostname;
    if (options.excludeCredentials?.some((d) => this.credentials.some((c) => c.id === d.id && c.rpId === rpId))) {
      throw domError('InvalidStateError', 'A credential in excludeCredentials is already on this authenticator');
    }
    if (!options.pubKeyCredParams.some((p) => p.alg === COSE_ALG[algorithm])) {
      throw domError('NotSupportedError', `pubKeyCredParams does not offer ${algorithm} (${COSE_ALG[algorithm]})`);
    }

    const { publicKey, privateKey } = generateKeys(algorithm, this.opts.rsa);
    const rawId = tamper.credentialId ? Buffer.from(tamper.credentialId, 'base64url') : randomBytes(32);
    const credential: StoredCredential = {
      id: b64url(rawId),
      idHex: rawId.toString('hex'),
      rpId,
      userHandle: options.user.id,
      algorithm,
      signCount: this.opts.countSignatures ? this.opts.counterStart : 0,
      publicKey: tamper.coseKey ? Uint8Array.from(tamper.coseKey) : coseKey(algorithm, publicKey),
      privateKey,
    };

    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const attestedCredentialData = Buffer.concat([aaguidBytes(this.opts.aaguid), idLength, rawId, credential.publicKey]);
    const authData = this.authenticatorData(tamper.rpId ?? rpId, tamper, credential.signCount, attestedCredentialData);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, never>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, never>()],
        ['authData', authData],
      ]),
    );
    this.credentials.push(credential);

    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: this.clientDataJSON('webauthn.create', options.challenge, tamper),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authData),
        transports: [...this.opts.transports],
        publicKeyAlgorithm: COSE_ALG[algorithm],
        publicKey: b64url(publicKey.export({ type: 'spki', format: 'der' })),
      },
    };
  }

  async getAssertion(options: PublicKeyCredentialRequestOptionsJSON, tamper: Tamper = {}, credential?: StoredCredential): Promise<AuthenticationResponseJSON> {
    const rpId = options.rpId ?? new URL(this.opts.origin).hostname;
    const allowed = options.allowCredentials ?? [];
    // Without an explicit credential, the most recently created matching one signs.
    const cred = credential ?? this.credentials.filter((c) => c.rpId === rpId && (allowed.length === 0 || allowed.some((d) => d.id === c.id))).at(-1);
    if (!cred) throw domError('NotAllowedError', `No credential for RP ID "${rpId}" matches allowCredentials`);

    let signCount = tamper.counter;
    if (signCount === undefined) {
      if (this.opts.countSignatures) cred.signCount += 1;
      signCount = cred.signCount;
    }

    const authData = this.authenticatorData(tamper.rpId ?? rpId, tamper, signCount);
    const clientDataJSON = this.clientDataJSON('webauthn.get', options.challenge, tamper);
    const signedData = Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]);
    const signature = sign(cred.algorithm === 'Ed25519' ? null : 'sha256', signedData, cred.privateKey); // ES256: DER; RS256: PKCS#1 v1.5
    if (tamper.flipSignatureBit) signature[signature.length - 1]! ^= 0x01;

    const userHandle = tamper.userHandle === undefined ? cred.userHandle : tamper.userHandle;
    const id = tamper.credentialId ?? cred.id;
    return {
      id,
      rawId: id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON,
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle === null ? {} : { userHandle }),
      },
    };
  }

  /** base64url clientDataJSON */
  private clientDataJSON(type: string, challenge: string, tamper: Tamper): string {
    const clientData = {
      type: tamper.type ?? type,
      challenge: tamper.challenge ?? challenge,
      origin: tamper.origin ?? this.opts.origin,
      crossOrigin: 'crossOrigin' in tamper ? tamper.crossOrigin : false,
      ...(tamper.topOrigin === undefined ? {} : { topOrigin: tamper.topOrigin }),
    };
    return Buffer.from(JSON.stringify(clientData)).toString('base64url');
  }

  /** rpIdHash(32) | flags(1) | signCount(4, BE) [| attestedCredentialData] */
  private authenticatorData(rpId: string, tamper: Tamper, signCount: number, attested?: Uint8Array): Buffer {
    let flags = 0;
    if (tamper.userPresent ?? true) flags |= FLAG.UP;
    if (tamper.userVerified ?? this.opts.userVerification) flags |= FLAG.UV;
    if (this.opts.backupEligible) flags |= FLAG.BE;
    if (this.opts.backedUp) flags |= FLAG.BS;
    if (attested) flags |= FLAG.AT;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(signCount);
    return Buffer.concat([sha256(rpId), Buffer.of(flags), counter, ...(attested ? [attested] : [])]);
  }
}

function generateKeys(algorithm: Algorithm, rsa: AuthenticatorOptions['rsa'] = {}) {
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (algorithm === 'Ed25519') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('rsa', { modulusLength: rsa.modulusLength ?? 2048, publicExponent: rsa.publicExponent ?? 65537 });
}

/** COSE_Key, keys in CTAP2 canonical order (isoCBOR keeps Map insertion order, it does not sort). */
function coseKey(algorithm: Algorithm, publicKey: KeyObject): Uint8Array<ArrayBuffer> {
  const jwk = publicKey.export({ format: 'jwk' });
  const bytes = (member: string | undefined) => Buffer.from(member!, 'base64url');
  const entries: [number, number | Uint8Array][] =
    algorithm === 'ES256'
      ? [
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ] // EC2, ES256, P-256
      : algorithm === 'Ed25519'
        ? [
            [1, 1],
            [3, -8],
            [-1, 6],
            [-2, bytes(jwk.x)],
          ] // OKP, EdDSA, Ed25519
        : [
            [1, 3],
            [3, -257],
            [-1, bytes(jwk.n)],
            [-2, bytes(jwk.e)],
          ]; // RSA, RS256
  return isoCBOR.encode(new Map(entries));
}

function aaguidBytes(aaguid: string): Buffer {
  const bytes = Buffer.from(aaguid.replace(/-/g, ''), 'hex');
  if (bytes.length !== 16) throw new Error(`Invalid AAGUID "${aaguid}"`);
  return bytes;
}
