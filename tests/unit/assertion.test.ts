// verifyAssertion against the library it replaces: for every input here, it must accept
// exactly when @simplewebauthn/server's verifyAuthenticationResponse (counter 0, same
// expectations, the top origins as expectedTopOrigin; a throw or verified: false is a
// rejection) accepts, and report the same counter, UV and backup state. One difference is
// deliberate (see assertion.ts): a cross-origin response while no top origins are
// configured, which the library accepts without a topOrigin, is refused; those cases say so
// (`differsOnCrossOrigin`). Most cases also state the decision they expect, so two
// verifiers that agree on a wrong answer still fail. Inputs: SoftAuthenticator assertions
// (ES256, Ed25519) and hand-made ones (RSA, other curves and algs), honest and tampered with,
// ECDSA signatures in the BER forms simplewebauthn tolerates, a recorded security key, and
// fast-check byte flips.
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateRegistrationOptions, verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL, isoCBOR, isoUint8Array } from '@simplewebauthn/server/helpers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKED_AGAINST_SIMPLEWEBAUTHN,
  createAssertionVerifier,
  type AssertionExpectations,
  type VerifiedAssertion,
} from '../../server/ceremonies/assertion.js';
import { SoftAuthenticator, type Algorithm, type Tamper } from '../helpers/authenticator.js';

const { verify: verifyAssertion } = createAssertionVerifier();

const RP_ID = 'localhost';
const ORIGIN = 'http://localhost:3000';
const CHALLENGE = 'c2lnbi1pbiBjaGFsbGVuZ2UgZm9yIHRoZSB0ZXN0cw';
const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;

const expectations = (overrides: Partial<AssertionExpectations> = {}): AssertionExpectations => ({
  challenge: CHALLENGE,
  origins: ['https://elsewhere.example', ORIGIN],
  topOrigins: [],
  rpId: RP_ID,
  requireUserVerification: true,
  ...overrides,
});

// --- Both verifiers, side by side ---------------------------------------------------------

type Outcome = { accepted: true; result: VerifiedAssertion } | { accepted: false; reason: string };

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function library(response: AuthenticationResponseJSON, publicKeyHex: string, expected: AssertionExpectations): Promise<Outcome> {
  try {
    const { verified, authenticationInfo } = await verifyAuthenticationResponse({
      response,
      expectedChallenge: expected.challenge,
      expectedOrigin: expected.origins,
      ...(expected.topOrigins.length > 0 ? { expectedTopOrigin: [...expected.topOrigins] } : {}),
      expectedRPID: expected.rpId,
      requireUserVerification: expected.requireUserVerification,
      credential: { id: response.id, publicKey: isoUint8Array.fromHex(publicKeyHex), counter: 0 },
    });
    if (!verified) return { accepted: false, reason: 'verified: false' };
    const { newCounter, userVerified, credentialBackedUp, credentialDeviceType } = authenticationInfo;
    return { accepted: true, result: { newCounter, userVerified, credentialBackedUp, credentialDeviceType } };
  } catch (error) {
    return { accepted: false, reason: reasonOf(error) };
  }
}

function ours(response: AuthenticationResponseJSON, publicKeyHex: string, expected: AssertionExpectations): Outcome {
  try {
    return { accepted: true, result: verifyAssertion(response, publicKeyHex, expected) };
  } catch (error) {
    return { accepted: false, reason: reasonOf(error) };
  }
}

const decision = (outcome: Outcome) => (outcome.accepted ? outcome : { accepted: false });

/** Asserts that both decide the same (and report the same when accepting); returns the decision. */
async function agree(response: AuthenticationResponseJSON, publicKeyHex: string, expected = expectations()): Promise<Outcome> {
  const theirs = await library(response, publicKeyHex, expected);
  const mine = ours(response, publicKeyHex, expected);
  const reasons = `simplewebauthn: ${theirs.accepted ? 'accepted' : theirs.reason}; verifyAssertion: ${mine.accepted ? 'accepted' : mine.reason}`;
  expect(decision(mine), reasons).toEqual(decision(theirs));
  return theirs;
}

/**
 * The one deliberate difference: a cross-origin response while no top origins are
 * configured. simplewebauthn accepts it (when it has no topOrigin), verifyAssertion refuses
 * it; returns verifyAssertion's decision.
 */
async function differsOnCrossOrigin(response: AuthenticationResponseJSON, publicKeyHex: string, expected = expectations()): Promise<Outcome> {
  expect(expected.topOrigins).toEqual([]);
  const theirs = await library(response, publicKeyHex, expected);
  const mine = ours(response, publicKeyHex, expected);
  expect(theirs.accepted, theirs.accepted ? 'accepted' : theirs.reason).toBe(true);
  expect(mine).toEqual({ accepted: false, reason: 'Unexpected cross-origin response: no top origins are configured' });
  return mine;
}

// --- Signers and hand-made assertions ------------------------------------------------------

interface Signer {
  publicKeyHex: string;
  sign(data: Buffer): Buffer;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const coseHex = (entries: [number, number | Uint8Array][]) => Buffer.from(isoCBOR.encode(new Map(entries))).toString('hex');

function jwkBytes(key: KeyObject) {
  const jwk = key.export({ format: 'jwk' });
  const field = (name: 'x' | 'y' | 'n' | 'e') => Buffer.from(jwk[name]!, 'base64url');
  return { x: () => field('x'), y: () => field('y'), n: () => field('n'), e: () => field('e') };
}

const COSE_CRV: Record<string, number> = { 'P-256': 1, 'P-384': 2, 'P-521': 3 };

/** An EC2 key on `curve` whose COSE alg is `alg`; it signs (DER) with `hash`. */
function ecSigner(curve: 'P-256' | 'P-384' | 'P-521', alg: number | string, hash: string, coseCrv = COSE_CRV[curve]!): Signer & { privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const { x, y } = jwkBytes(publicKey);
  const entries: [number, number | Uint8Array][] = [
    [1, 2],
    [-1, coseCrv],
    [-2, x()],
    [-3, y()],
  ];
  const publicKeyHex =
    typeof alg === 'number'
      ? coseHex([[3, alg], ...entries])
      : Buffer.from(isoCBOR.encode(new Map<number, number | string | Uint8Array>([[3, alg], ...entries]))).toString('hex');
  return { publicKeyHex, privateKey, sign: (data) => sign(hash, data, privateKey) };
}

function ed25519Signer(alg: number, crv = 6): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyHex: coseHex([
      [1, 1],
      [3, alg],
      [-1, crv],
      [-2, jwkBytes(publicKey).x()],
    ]),
    sign: (data) => sign(null, data, privateKey),
  };
}

const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });

function rsaSigner(alg: number, hash: string, pss = false, { publicKey, privateKey } = rsaKeys): Signer {
  const { n, e } = jwkBytes(publicKey);
  const saltLength = createHash(hash).digest().length;
  return {
    publicKeyHex: coseHex([
      [1, 3],
      [3, alg],
      [-1, n()],
      [-2, e()],
    ]),
    sign: (data) => (pss ? sign(hash, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }) : sign(hash, data, privateKey)),
  };
}

/** A SoftAuthenticator credential as a signer (ES256 signs DER with SHA-256, Ed25519 plain). */
function softSigner(credential: SoftAuthenticator['credentials'][number]): Signer {
  const hash = credential.algorithm === 'ES256' ? 'sha256' : null;
  return { publicKeyHex: Buffer.from(credential.publicKey).toString('hex'), sign: (data) => sign(hash, data, credential.privateKey) };
}

/** rpIdHash(32) | flags(1) | counter(4, BE) | extra */
function authData({ rpId = RP_ID, flags = FLAG.UP | FLAG.UV, counter = 7, extra = [] as number[] } = {}): Buffer {
  const counterBytes = Buffer.alloc(4);
  counterBytes.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.of(flags), counterBytes, Buffer.from(extra)]);
}

/** clientDataJSON bytes: the honest fields, overridden (undefined drops a field). */
function clientData(overrides: Record<string, unknown> = {}): Buffer {
  const fields = { type: 'webauthn.get', challenge: CHALLENGE, origin: ORIGIN, crossOrigin: false, ...overrides };
  return Buffer.from(JSON.stringify(fields));
}

const credentialId = b64url(sha256('a credential id'));

/**
 * An assertion over the given base64url strings, signed over what simplewebauthn's own
 * decoder makes of them (which is what it verifies).
 */
function signedStrings(
  signer: Signer,
  authenticatorData: string,
  clientDataJSON: string,
  extra: Partial<AuthenticationResponseJSON['response']> = {},
): AuthenticationResponseJSON {
  const signedData = Buffer.concat([isoBase64URL.toBuffer(authenticatorData), sha256(isoBase64URL.toBuffer(clientDataJSON))]);
  return {
    id: credentialId,
    rawId: credentialId,
    type: 'public-key',
    clientExtensionResults: {},
    response: { authenticatorData, clientDataJSON, signature: b64url(signer.sign(signedData)), ...extra },
  };
}

const signed = (signer: Signer, data = authData(), client = clientData()) => signedStrings(signer, b64url(data), b64url(client));

/** A copy of an assertion with response fields replaced. */
function withFields(
  assertion: AuthenticationResponseJSON,
  fields: Record<string, unknown>,
  response: Record<string, unknown> = {},
): AuthenticationResponseJSON {
  return { ...assertion, ...fields, response: { ...assertion.response, ...response } } as AuthenticationResponseJSON;
}

// --- SoftAuthenticator assertions, with its tamper knobs ------------------------------------

async function softCredential(algorithm: Algorithm) {
  const authenticator = new SoftAuthenticator({ algorithm });
  const options = await generateRegistrationOptions({ rpName: 'Test', rpID: RP_ID, userName: 'alice', supportedAlgorithmIDs: [-8, -7, -257] });
  await authenticator.createCredential(options);
  const credential = authenticator.credentials[0]!;
  const requestOptions = { challenge: CHALLENGE, rpId: RP_ID, allowCredentials: [{ id: credential.id, type: 'public-key' as const }] };
  const assert = (tamper: Tamper = {}) => authenticator.getAssertion(requestOptions, tamper);
  return { credential, publicKeyHex: Buffer.from(credential.publicKey).toString('hex'), signer: softSigner(credential), assert };
}

describe.each<Algorithm>(['ES256', 'Ed25519'])('SoftAuthenticator %s assertions', (algorithm) => {
  let soft: Awaited<ReturnType<typeof softCredential>>;
  beforeAll(async () => {
    soft = await softCredential(algorithm);
  });

  it('an honest one is accepted by both, with the same counter, UV and backup state', async () => {
    const outcome = await agree(await soft.assert(), soft.publicKeyHex);
    expect(outcome).toEqual({
      accepted: true,
      result: { newCounter: soft.credential.signCount, userVerified: true, credentialBackedUp: false, credentialDeviceType: 'singleDevice' },
    });
  });

  it.each<[string, Tamper, Partial<AssertionExpectations>, boolean]>([
    ['a wrong challenge', { challenge: 'b3RoZXI' }, {}, false],
    ['a wrong origin', { origin: 'https://evil.example' }, {}, false],
    ['a registration type', { type: 'webauthn.create' }, {}, false],
    ['another RP ID hash', { rpId: 'evil.example' }, {}, false],
    ['UP cleared', { userPresent: false }, {}, false],
    ['UV cleared, UV required', { userVerified: false }, {}, false],
    ['UV cleared, UV not required', { userVerified: false }, { requireUserVerification: false }, true],
    ['a flipped signature bit', { flipSignatureBit: true }, {}, false],
    ['a counter of 0', { counter: 0 }, {}, true],
    ['a counter of 2^32 - 1', { counter: 0xffffffff }, {}, true],
    ['no user handle', { userHandle: null }, {}, true],
    ['another credential id', { credentialId: 'b3RoZXItaWQ' }, {}, true], // the id is not signed: the caller looks it up
  ])('tampered with (%s): both decide the same', async (_name, tamper, overrides, accepted) => {
    const outcome = await agree(await soft.assert(tamper), soft.publicKeyHex, expectations(overrides));
    expect(outcome.accepted).toBe(accepted);
  });

  it('a signature by another key is refused by both', async () => {
    const other = await softCredential(algorithm);
    const outcome = await agree(await other.assert(), soft.publicKeyHex);
    expect(outcome.accepted).toBe(false);
  });
});

// --- Hand-made assertions: every check, for ES256, Ed25519 and RS256 ------------------------

type Case = [
  name: string,
  make: (signer: Signer) => AuthenticationResponseJSON,
  accepted: boolean,
  overrides?: Partial<AssertionExpectations>,
  differs?: 'cross-origin', // the library decides otherwise, deliberately (differsOnCrossOrigin)
];

const TOP = { topOrigins: ['https://top.example', 'https://other-top.example'] };

const cases: Case[] = [
  ['honest', (s) => signed(s), true],
  ['the second allowed origin', (s) => signed(s, authData(), clientData({ origin: 'https://elsewhere.example' })), true],
  // clientDataJSON
  ['a wrong challenge', (s) => signed(s, authData(), clientData({ challenge: 'b3RoZXI' })), false],
  ['a challenge that is not a string', (s) => signed(s, authData(), clientData({ challenge: 12 })), false],
  ['a wrong origin', (s) => signed(s, authData(), clientData({ origin: 'http://localhost:3001' })), false],
  ['no origin', (s) => signed(s, authData(), clientData({ origin: undefined })), false],
  ['type webauthn.create', (s) => signed(s, authData(), clientData({ type: 'webauthn.create' })), false],
  ['no type', (s) => signed(s, authData(), clientData({ type: undefined })), false],
  // crossOrigin and topOrigin, with no top origins configured (the default) and with some.
  ['crossOrigin without topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: true })), false, {}, 'cross-origin'],
  ['crossOrigin with a topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: true, topOrigin: 'https://top.example' })), false],
  ['crossOrigin with an empty topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: true, topOrigin: '' })), false, {}, 'cross-origin'],
  ['a topOrigin without crossOrigin', (s) => signed(s, authData(), clientData({ topOrigin: ORIGIN })), false],
  ['crossOrigin "false" (a truthy string) with a topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: 'false', topOrigin: ORIGIN })), false],
  ['crossOrigin "false" (a truthy string) without a topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: 'false' })), false, {}, 'cross-origin'],
  ['crossOrigin null, an empty topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: null, topOrigin: '' })), true],
  [
    'top origins configured: crossOrigin with a listed topOrigin',
    (s) => signed(s, authData(), clientData({ crossOrigin: true, topOrigin: 'https://other-top.example' })),
    true,
    TOP,
  ],
  ['top origins configured: crossOrigin without topOrigin', (s) => signed(s, authData(), clientData({ crossOrigin: true })), true, TOP],
  [
    'top origins configured: crossOrigin with an unlisted topOrigin',
    (s) => signed(s, authData(), clientData({ crossOrigin: true, topOrigin: 'https://evil.example' })),
    false,
    TOP,
  ],
  [
    'top origins configured: crossOrigin with a topOrigin differing in case',
    (s) => signed(s, authData(), clientData({ crossOrigin: true, topOrigin: 'https://TOP.example' })),
    false,
    TOP,
  ],
  [
    'top origins configured: a listed topOrigin without crossOrigin',
    (s) => signed(s, authData(), clientData({ topOrigin: 'https://top.example' })),
    false,
    TOP,
  ],
  ['top origins configured: same-origin, no topOrigin', (s) => signed(s), true, TOP],
  ['tokenBinding present', (s) => signed(s, authData(), clientData({ tokenBinding: { status: 'present', id: 'abc' } })), true],
  ['tokenBinding notSupported', (s) => signed(s, authData(), clientData({ tokenBinding: { status: 'notSupported' } })), true],
  ['tokenBinding with an unknown status', (s) => signed(s, authData(), clientData({ tokenBinding: { status: 'bogus' } })), false],
  ['tokenBinding as a string', (s) => signed(s, authData(), clientData({ tokenBinding: 'present' })), false],
  ['tokenBinding as an array', (s) => signed(s, authData(), clientData({ tokenBinding: ['present'] })), false],
  ['tokenBinding null', (s) => signed(s, authData(), clientData({ tokenBinding: null })), true],
  ['clientDataJSON null', (s) => signed(s, authData(), Buffer.from('null')), false],
  ['clientDataJSON a JSON string', (s) => signed(s, authData(), Buffer.from('"webauthn.get"')), false],
  ['clientDataJSON not JSON', (s) => signed(s, authData(), Buffer.from('{"type":')), false],
  ['clientDataJSON behind a UTF-8 BOM', (s) => signed(s, authData(), Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), clientData()])), true],
  [
    'clientDataJSON with invalid UTF-8 in an extra field',
    (s) => signed(s, authData(), Buffer.concat([clientData().subarray(0, -1), Buffer.from(',"x":"'), Buffer.of(0xff, 0xc0), Buffer.from('"}')])),
    true,
  ],
  // authenticatorData
  ['another RP ID hash', (s) => signed(s, authData({ rpId: 'evil.example' })), false],
  ['the RP ID hash of "Localhost"', (s) => signed(s, authData({ rpId: 'Localhost' })), false],
  ['UP cleared', (s) => signed(s, authData({ flags: FLAG.UV })), false],
  ['UV cleared, UV required', (s) => signed(s, authData({ flags: FLAG.UP })), false],
  ['UV cleared, UV not required', (s) => signed(s, authData({ flags: FLAG.UP })), true, { requireUserVerification: false }],
  ['UP and UV cleared, UV not required', (s) => signed(s, authData({ flags: 0 })), false, { requireUserVerification: false }],
  ['BS without BE', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.BS })), false],
  ['BE without BS', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.BE })), true],
  ['BE and BS', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.BE | FLAG.BS })), true],
  ['reserved flag bits set', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | 0x02 | 0x20 })), true],
  ['a counter of 0', (s) => signed(s, authData({ counter: 0 })), true],
  ['truncated to 36 bytes', (s) => signed(s, authData().subarray(0, 36)), false],
  ['one byte too many', (s) => signed(s, authData({ extra: [0] })), false],
  ['the ED flag without extensions', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.ED })), false],
  [
    'the ED flag with a CBOR extensions map',
    (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.ED, extra: [...isoCBOR.encode(new Map([['credProtect', 2]]))] })),
    true,
  ],
  [
    'the ED flag with extensions and a byte more',
    (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.ED, extra: [...isoCBOR.encode(new Map([['credProtect', 2]])), 0] })),
    false,
  ],
  ['the AT flag without attested data', (s) => signed(s, authData({ flags: FLAG.UP | FLAG.UV | FLAG.AT })), false],
  // The response's other fields
  ['id differs from rawId', (s) => withFields(signed(s), { rawId: b64url(sha256('other')) }), false],
  ['an empty id and rawId', (s) => withFields(signed(s), { id: '', rawId: '' }), false],
  ['type "public-key " ', (s) => withFields(signed(s), { type: 'public-key ' }), false],
  ['clientDataJSON not a string', (s) => withFields(signed(s), {}, { clientDataJSON: 42 }), false],
  ['no response object', (s) => ({ ...signed(s), response: undefined }) as unknown as AuthenticationResponseJSON, false],
  ['authenticatorData with a "+"', (s) => withFields(signed(s), {}, { authenticatorData: `+${b64url(authData()).slice(1)}` }), false],
  ['authenticatorData not a string', (s) => withFields(signed(s), {}, { authenticatorData: [1, 2] }), false],
  ['authenticatorData padded with "="', (s) => signedStrings(s, `${b64url(authData())}==`, b64url(clientData())), true],
  // Characters 44-47 encode counter bytes 00 00 00: a "=" there decodes as the "A" it replaces.
  [
    'authenticatorData with a "=" for an "A" inside',
    (s) => signedStrings(s, `${b64url(authData()).slice(0, 44)}=${b64url(authData()).slice(45)}`, b64url(clientData())),
    true,
  ],
  [
    'authenticatorData with a "=" inside the RP ID hash',
    (s) => signedStrings(s, `${b64url(authData()).slice(0, 8)}=${b64url(authData()).slice(9)}`, b64url(clientData())),
    false,
  ],
  [
    'authenticatorData in standard base64 ("/" or "+")',
    (s) => signedStrings(s, authData({ counter: 0xfbffff }).toString('base64'), b64url(clientData())),
    false,
  ],
  ['a signature with a "/"', (s) => withFields(signed(s), {}, { signature: `/${signed(s).response.signature.slice(1)}` }), false],
  ['a signature with its "=" padding', (s) => withFields(signed(s), {}, { signature: padded(signed(s).response.signature) }), true],
  ['an empty signature', (s) => withFields(signed(s), {}, { signature: '' }), false],
  ['a signature not a string', (s) => withFields(signed(s), {}, { signature: null }), false],
  // clientDataJSON is decoded without validation, by simplewebauthn's decoder: "*" reads as "A".
  ['clientDataJSON with "*" for its first "A"', (s) => signedStrings(s, b64url(authData()), starForA(b64url(clientData({ pad: 'AAAA' })))), true],
  ['clientDataJSON with its "=" padding', (s) => signedStrings(s, b64url(authData()), padded(b64url(clientData({ pad: 'x' })))), true],
  ['a user handle', (s) => withFields(signed(s), {}, { userHandle: 'dXNlcg' }), true],
  ['an empty user handle', (s) => withFields(signed(s), {}, { userHandle: '' }), true],
  ['a user handle that is a number', (s) => withFields(signed(s), {}, { userHandle: 5 }), false],
];

function padded(base64url: string): string {
  return base64url.padEnd(Math.ceil(base64url.length / 4) * 4, '=');
}

function starForA(base64url: string): string {
  const index = base64url.indexOf('A');
  expect(index).toBeGreaterThanOrEqual(0);
  return `${base64url.slice(0, index)}*${base64url.slice(index + 1)}`;
}

describe.each<[string, () => Promise<Signer>]>([
  ['ES256 (SoftAuthenticator key)', async () => (await softCredential('ES256')).signer],
  ['Ed25519 (SoftAuthenticator key)', async () => (await softCredential('Ed25519')).signer],
  ['RS256', async () => rsaSigner(-257, 'sha256', false, generateKeyPairSync('rsa', { modulusLength: 2048 }))],
])('%s, hand-made assertions', (_name, makeSigner) => {
  let signer: Signer;
  beforeAll(async () => {
    signer = await makeSigner();
  });

  it.each(cases)('%s: both decide the same (or differ as documented)', async (_case, make, accepted, overrides, differs) => {
    const compare = differs === 'cross-origin' ? differsOnCrossOrigin : agree;
    const outcome = await compare(make(signer), signer.publicKeyHex, expectations(overrides));
    expect(outcome.accepted, outcome.accepted ? 'accepted' : outcome.reason).toBe(accepted);
  });

  it('reports BE and BS as simplewebauthn does', async () => {
    const outcome = await agree(
      signed(signer, authData({ flags: FLAG.UP | FLAG.BE | FLAG.BS, counter: 99 })),
      signer.publicKeyHex,
      expectations({ requireUserVerification: false }),
    );
    expect(outcome).toEqual({ accepted: true, result: { newCounter: 99, userVerified: false, credentialBackedUp: true, credentialDeviceType: 'multiDevice' } });
  });

  it('a signature by another key of the same kind is refused by both', async () => {
    const other = await makeSigner();
    const outcome = await agree(signed(other), signer.publicKeyHex);
    expect(outcome.accepted).toBe(false);
  });

  it('verifies again with the same (now cached) key, and still refuses a bad signature', async () => {
    expect((await agree(signed(signer), signer.publicKeyHex)).accepted).toBe(true);
    expect((await agree(signed(signer, authData({ counter: 8 }), clientData({ challenge: 'eA' })), signer.publicKeyHex)).accepted).toBe(false);
    const good = signed(signer);
    const forged = withFields(good, {}, { authenticatorData: b64url(authData({ counter: 8 })) });
    expect((await agree(forged, signer.publicKeyHex)).accepted).toBe(false);
  });
});

// --- Key types and algorithms --------------------------------------------------------------

describe('key types and algorithms', () => {
  const keys: [string, () => Signer, boolean][] = [
    ['EC2 P-256, ES256', () => ecSigner('P-256', -7, 'sha256'), true],
    ['EC2 P-384, ES384', () => ecSigner('P-384', -35, 'sha384'), true],
    ['EC2 P-521, ES512', () => ecSigner('P-521', -36, 'sha512'), true],
    ['EC2 P-256 with alg ES512 (the alg picks the hash)', () => ecSigner('P-256', -36, 'sha512'), true],
    ['EC2 P-384 with alg ES256', () => ecSigner('P-384', -7, 'sha256'), true],
    ['EC2 P-256 with alg EdDSA (hashes with SHA-512)', () => ecSigner('P-256', -8, 'sha512'), true],
    ['EC2 P-256 with alg RS256', () => ecSigner('P-256', -257, 'sha256'), true],
    ['EC2 P-256, ES256 but signed with SHA-384', () => ecSigner('P-256', -7, 'sha384'), false],
    ['EC2 P-256 with alg ES256K (no hash mapping)', () => ecSigner('P-256', -47, 'sha256'), false],
    ['EC2 P-256 with alg 0', () => ecSigner('P-256', 0, 'sha256'), false],
    ['EC2 P-256 with alg ML-DSA-44', () => ecSigner('P-256', -48, 'sha256'), false],
    ['EC2 P-256 with alg "ES256" (a string)', () => ecSigner('P-256', 'ES256', 'sha256'), false],
    ['EC2 with crv secp256k1', () => ecSigner('P-256', -7, 'sha256', 8), false],
    ['EC2 with crv Ed25519', () => ecSigner('P-256', -7, 'sha256', 6), false],
    ['EC2 P-256 key labelled P-384', () => ecSigner('P-256', -7, 'sha256', 2), false],
    ['OKP Ed25519, EdDSA', () => ed25519Signer(-8), true],
    ['OKP Ed25519 with alg ES256 (any COSE alg passes)', () => ed25519Signer(-7), true],
    ['OKP Ed25519 with an unknown alg', () => ed25519Signer(-9), false],
    ['OKP with crv X25519', () => ed25519Signer(-8, 4), false],
    ['RSA RS256', () => rsaSigner(-257, 'sha256'), true],
    ['RSA RS384', () => rsaSigner(-258, 'sha384'), true],
    ['RSA RS512', () => rsaSigner(-259, 'sha512'), true],
    ['RSA PS256', () => rsaSigner(-37, 'sha256', true), true],
    ['RSA PS384', () => rsaSigner(-38, 'sha384', true), true],
    ['RSA PS512', () => rsaSigner(-39, 'sha512', true), true],
    ['RSA RS1', () => rsaSigner(-65535, 'sha1'), true],
    ['RSA RS256 signed with PSS', () => ({ ...rsaSigner(-257, 'sha256'), sign: rsaSigner(-37, 'sha256', true).sign }), false],
    ['RSA with alg ES256', () => rsaSigner(-7, 'sha256'), false],
    ['RSA with alg EdDSA', () => rsaSigner(-8, 'sha512'), false],
  ];

  it.each(keys)('%s: both decide the same, and a changed signed byte is refused', async (_name, makeSigner, accepted) => {
    const signer = makeSigner();
    const outcome = await agree(signed(signer), signer.publicKeyHex);
    expect(outcome.accepted, outcome.accepted ? 'accepted' : outcome.reason).toBe(accepted);
    const tampered = withFields(signed(signer), {}, { authenticatorData: b64url(authData({ counter: 8 })) });
    expect((await agree(tampered, signer.publicKeyHex)).accepted).toBe(false);
  });

  it.each<[string, string]>([
    [
      'kty AKP (ML-DSA)',
      coseHex([
        [1, 7],
        [3, -48],
        [-1, Buffer.alloc(1312, 1)],
      ]),
    ],
    [
      'an unknown kty',
      coseHex([
        [1, 9],
        [3, -7],
      ]),
    ],
    [
      'no alg',
      coseHex([
        [1, 2],
        [-1, 1],
        [-2, Buffer.alloc(32, 1)],
        [-3, Buffer.alloc(32, 2)],
      ]),
    ],
    [
      'a point not on the curve',
      coseHex([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.alloc(32, 1)],
        [-3, Buffer.alloc(32, 2)],
      ]),
    ],
    [
      'x as a number',
      coseHex([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, 32],
        [-3, Buffer.alloc(32, 2)],
      ]),
    ],
    ['a CBOR array, not a map', Buffer.from(isoCBOR.encode([1, 2, 3])).toString('hex')],
    ['not CBOR', 'ff'],
    ['not hex', 'zz'],
    ['empty', ''],
  ])('a public key with %s is refused by both, every time', async (_name, publicKeyHex) => {
    const assertion = signed(ecSigner('P-256', -7, 'sha256'));
    for (let i = 0; i < 2; i++) expect((await agree(assertion, publicKeyHex)).accepted).toBe(false);
  });
});

// --- ECDSA signature encodings --------------------------------------------------------------

// simplewebauthn reads the DER signature with asn1js (BER, leniently) and sizes r and s
// itself; verifyAssertion must take and refuse the same encodings.

type Bytes = number[];
const lengthOf = (n: number): Bytes => (n < 0x80 ? [n] : [0x81, n]);
const tlv = (tag: Bytes, content: Bytes, length: Bytes = lengthOf(content.length)): Bytes => [...tag, ...length, ...content];
/** The minimal two's complement content of a non-negative integer given big-endian. */
function minimal(value: Uint8Array): Bytes {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const bytes = [...value.subarray(start)];
  return bytes[0]! & 0x80 ? [0, ...bytes] : bytes;
}
/** A SEQUENCE whose length is `prefix` followed by one byte. */
const longForm = (prefix: Bytes, content: Bytes): Bytes => tlv([0x30], content, [...prefix, content.length]);
const der = (r: Bytes, s: Bytes): Bytes => tlv([0x30], [...tlv([0x02], r), ...tlv([0x02], s)]);

type Encoding = [name: string, encode: (r: Uint8Array, s: Uint8Array) => Bytes, accepted: boolean];

const encodings: Encoding[] = [
  ['canonical DER', (r, s) => der(minimal(r), minimal(s)), true],
  ['r and s as fixed-size unsigned contents (s looks negative, but for P-521)', (r, s) => der([...r], [...s]), true],
  ['an extra leading 0x00 on r (high bit of r clear)', (r, s) => der([0, ...minimal(r)], minimal(s)), false],
  ['two extra leading 0x00 on s', (r, s) => der(minimal(r), [0, 0, ...s]), false],
  [
    'long-form lengths everywhere',
    (r, s) => longForm([0x84, 0, 0, 0], [...tlv([0x02], minimal(r), [0x81, minimal(r).length]), ...tlv([0x02], minimal(s), [0x82, 0, minimal(s).length])]),
    true,
  ],
  ['a nine-byte length', (r, s) => longForm([0x89, 0, 0, 0, 0, 0, 0, 0, 0], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))]), false],
  ['INTEGER tags in high-tag-number form', (r, s) => tlv([0x30], [...tlv([0x1f, 0x02], minimal(r)), ...tlv([0x1f, 0x80, 0x02], minimal(s))]), true],
  ['SEQUENCE tag in high-tag-number form', (r, s) => tlv([0x3f, 0x10], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))]), true],
  ['context-specific [0] instead of SEQUENCE', (r, s) => [0xa0, ...der(minimal(r), minimal(s)).slice(1)], true],
  ['context-specific [5] instead of SEQUENCE', (r, s) => [0xa5, ...der(minimal(r), minimal(s)).slice(1)], true],
  ['context-specific [31] in high-tag-number form', (r, s) => [0xbf, 0x1f, ...der(minimal(r), minimal(s)).slice(1)], true],
  [
    'context-specific [2^49] (asn1js cannot re-encode it)',
    (r, s) => [0xbf, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, ...der(minimal(r), minimal(s)).slice(1)],
    false,
  ],
  ['application [16] instead of SEQUENCE', (r, s) => [0x70, ...der(minimal(r), minimal(s)).slice(1)], false],
  ['SET instead of SEQUENCE', (r, s) => [0x31, ...der(minimal(r), minimal(s)).slice(1)], false],
  ['a primitive SEQUENCE', (r, s) => [0x10, ...der(minimal(r), minimal(s)).slice(1)], false],
  ['indefinite length with end-of-contents', (r, s) => [0x30, 0x80, ...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s)), 0, 0], true],
  [
    'indefinite length, end-of-contents with a length of 5 (asn1js skips nothing)',
    (r, s) => [0x30, 0x80, ...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s)), 0, 5],
    true,
  ],
  ['indefinite length, a constructed end-of-contents', (r, s) => [0x30, 0x80, ...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s)), 0x20, 0], true],
  ['indefinite length ending in an empty OCTET STRING', (r, s) => [0x30, 0x80, ...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s)), 0x04, 0], false],
  ['indefinite length without end-of-contents', (r, s) => [0x30, 0x80, ...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))], false],
  ['bytes after the SEQUENCE', (r, s) => [...der(minimal(r), minimal(s)), 0xde, 0xad], true],
  [
    'a SEQUENCE length that ends inside s (asn1js reads s to its own end)',
    (r, s) => tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))], lengthOf(tlv([0x02], minimal(r)).length + 2)),
    true,
  ],
  [
    'a SEQUENCE length that ends inside s’s header',
    (r, s) => tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))], lengthOf(tlv([0x02], minimal(r)).length + 1)),
    false,
  ],
  ['a SEQUENCE length that ends inside r', (r, s) => tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))], lengthOf(10)), false],
  [
    'a SEQUENCE length past the end',
    (r, s) => tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s))], lengthOf(4 + minimal(r).length + minimal(s).length + 1)),
    false,
  ],
  ['the last byte missing', (r, s) => der(minimal(r), minimal(s)).slice(0, -1), false],
  ['s as an OCTET STRING', (r, s) => tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x04], minimal(s))]), false],
  ['r as a constructed INTEGER', (r, s) => tlv([0x30], [...tlv([0x22], tlv([0x02], minimal(r))), ...tlv([0x02], minimal(s))]), false],
  ['only r', (r) => tlv([0x30], tlv([0x02], minimal(r))), false],
  ['s and r swapped', (r, s) => der(minimal(s), minimal(r)), false],
  ['an empty SEQUENCE', () => [0x30, 0x00], false],
];

/**
 * Signs until r's first byte is in [1, 0x7f] (no sign byte, and an extra 0x00 would not be
 * one) and, but on P-521 where it cannot, s's high bit is set (DER gives it a sign byte).
 */
function ecSignature(privateKey: KeyObject, hash: string, data: Buffer, size: number): { r: Uint8Array; s: Uint8Array } {
  for (;;) {
    const raw = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const r = raw.subarray(0, size);
    if (r[0]! > 0 && r[0]! < 0x80 && (size === 66 || raw[size]! >= 0x80)) return { r, s: raw.subarray(size) };
  }
}

describe.each<['P-256' | 'P-384' | 'P-521', number, string, number]>([
  ['P-256', -7, 'sha256', 32],
  ['P-384', -35, 'sha384', 48],
  ['P-521', -36, 'sha512', 66],
])('ECDSA %s signature encodings', (curve, alg, hash, size) => {
  const signer = ecSigner(curve, alg, hash);
  const honest = signed(signer);
  const signedData = Buffer.concat([authData(), sha256(clientData())]);
  const { r, s } = ecSignature(signer.privateKey, hash, signedData, size);
  const withSignature = (bytes: Bytes) => withFields(honest, {}, { signature: b64url(Uint8Array.from(bytes)) });

  it.each(encodings)('%s: both decide the same', async (_name, encode, accepted) => {
    const outcome = await agree(withSignature(encode(r, s)), signer.publicKeyHex);
    expect(outcome.accepted, outcome.accepted ? 'accepted' : outcome.reason).toBe(accepted);
  });

  it('elements after s: both ignore them (the same parser reads the signature)', async () => {
    const extra = withSignature(tlv([0x30], [...tlv([0x02], minimal(r)), ...tlv([0x02], minimal(s)), 0x02, 0x00]));
    const outcome = await agree(extra, signer.publicKeyHex);
    expect(outcome.accepted).toBe(true);
  });
});

// --- A recorded security key ------------------------------------------------------------------

interface RecordedCase {
  description: string;
  expectedChallenge: string;
  expectedOrigin: string;
  expectedRPID: string;
  credential: { publicKeyHex: string };
  response: AuthenticationResponseJSON;
  expected: VerifiedAssertion;
}

const fixtures = new URL('../fixtures/real-authenticators/', import.meta.url);
const recorded = (JSON.parse(readFileSync(new URL('auth-security-key-es256.json', fixtures), 'utf8')) as { cases: RecordedCase[] }).cases;

describe.each(recorded.map((c) => [c.description, c] as const))('recorded security key assertion (%s)', (_name, recording) => {
  const recordedExpectations = (overrides: Partial<AssertionExpectations> = {}) =>
    expectations({
      challenge: recording.expectedChallenge,
      origins: [recording.expectedOrigin],
      rpId: recording.expectedRPID,
      requireUserVerification: false,
      ...overrides,
    });
  const { publicKeyHex } = recording.credential;

  it('is accepted by both, with the recorded counter and flags', async () => {
    const outcome = await agree(recording.response, publicKeyHex, recordedExpectations());
    const { newCounter, userVerified, credentialBackedUp, credentialDeviceType } = recording.expected;
    expect(outcome).toEqual({ accepted: true, result: { newCounter, userVerified, credentialBackedUp, credentialDeviceType } });
  });

  it.each<[string, Partial<AssertionExpectations>]>([
    ['UV required (it has none)', { requireUserVerification: true }],
    ['another challenge', { challenge: CHALLENGE }],
    ['another origin', { origins: [ORIGIN] }],
    ['another RP ID', { rpId: RP_ID }],
  ])('is refused by both with %s', async (_case, overrides) => {
    expect((await agree(recording.response, publicKeyHex, recordedExpectations(overrides))).accepted).toBe(false);
  });

  it('is refused by both under the other recorded key', async () => {
    const other = recorded.find((c) => c !== recording)!;
    expect((await agree(recording.response, other.credential.publicKeyHex, recordedExpectations())).accepted).toBe(false);
  });
});

// --- Random byte flips ---------------------------------------------------------------------------

describe('random byte changes (fast-check)', () => {
  let signers: Signer[];
  beforeAll(async () => {
    signers = [(await softCredential('ES256')).signer, (await softCredential('Ed25519')).signer, rsaSigner(-257, 'sha256'), ecSigner('P-521', -36, 'sha512')];
  });

  const fields = ['authenticatorData', 'clientDataJSON', 'signature'] as const;
  const change = fc.record({
    signer: fc.nat(3),
    field: fc.constantFrom(...fields),
    // Headers and flags are at the start: half the changes land there.
    index: fc.oneof(fc.nat(8), fc.nat(300)),
    xor: fc.integer({ min: 1, max: 255 }),
    // Signing the changed bytes tests the parsing and the checks, not just the signature.
    resign: fc.boolean(),
    requireUserVerification: fc.boolean(),
  });

  it('a changed byte in authenticatorData, clientDataJSON or the signature: both decide the same', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(change, async ({ signer: which, field, index, xor, resign, requireUserVerification }) => {
        const signer = signers[which]!;
        const parts = { authenticatorData: authData({ flags: FLAG.UP | FLAG.UV | FLAG.BE }), clientDataJSON: clientData() };
        let response = signed(signer, parts.authenticatorData, parts.clientDataJSON);
        const bytes = Buffer.from(field === 'signature' ? Buffer.from(response.response.signature, 'base64url') : parts[field]);
        bytes[index % bytes.length]! ^= xor;
        if (field !== 'signature' && resign) {
          const changed = { ...parts, [field]: bytes };
          response = signed(signer, changed.authenticatorData, changed.clientDataJSON);
        } else {
          response = withFields(response, {}, { [field]: b64url(bytes) });
        }
        if ((await agree(response, signer.publicKeyHex, expectations({ requireUserVerification }))).accepted) accepted++;
      }),
      {
        numRuns: 200,
        // Always among the runs: a re-signed change to the counter, which both accept.
        examples: [[{ signer: 0, field: 'authenticatorData', index: 35, xor: 1, resign: true, requireUserVerification: true }]],
      },
    );
    // Re-signed changes to flags and unused JSON bytes pass: the runs are not all rejections.
    expect(accepted).toBeGreaterThan(0);
  });

  it('an edited base64url string (any character, padding, other alphabets): both decide the same', async () => {
    const alphabet = 'AZaz09-_+/=*. \u00e9';
    await fc.assert(
      fc.asyncProperty(
        fc.nat(3),
        fc.constantFrom(...fields),
        fc.nat(200),
        fc.constantFrom(...alphabet),
        fc.constantFrom('replace', 'insert', 'delete'),
        fc.boolean(),
        async (which, field, index, char, edit, resign) => {
          const signer = signers[which]!;
          const honest = signed(signer);
          const text = honest.response[field];
          const at = index % (text.length + 1);
          const edited = `${text.slice(0, at)}${edit === 'delete' ? '' : char}${text.slice(edit === 'insert' ? at : at + 1)}`;
          const response =
            resign && field !== 'signature'
              ? signedStrings(
                  signer,
                  field === 'authenticatorData' ? edited : honest.response.authenticatorData,
                  field === 'clientDataJSON' ? edited : honest.response.clientDataJSON,
                )
              : withFields(honest, {}, { [field]: edited });
          await agree(response, signer.publicKeyHex);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// The cases above prove agreement with one version of the library only. Upgrading it means
// running this file again and then updating CHECKED_AGAINST_SIMPLEWEBAUTHN.
describe('the library version it was checked against', () => {
  const root = new URL('../../', import.meta.url);
  const versionIn = (path: string) => (JSON.parse(readFileSync(new URL(path, root), 'utf8')) as { version: string }).version;

  it('is the installed @simplewebauthn/server', () => {
    expect(versionIn('node_modules/@simplewebauthn/server/package.json')).toBe(CHECKED_AGAINST_SIMPLEWEBAUTHN);
  });

  it('is the exact version package.json pins', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['@simplewebauthn/server']).toBe(CHECKED_AGAINST_SIMPLEWEBAUTHN);
  });
});
