// The public keys a passkey may register with: ES256 on P-256, EdDSA on Ed25519, RS256 with
// e = 65537 and a 2048- to 4096-bit modulus. Every other key, however labelled, is refused at
// the finish with 400 registration_failed and nothing stored.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signIn, SoftAuthenticator, startService, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
beforeEach(async () => (service = await startService()));
afterEach(() => service.close());

type CoseValue = number | Uint8Array;
const cose = (entries: [number, CoseValue][]) => isoCBOR.encode(new Map<number, CoseValue>(entries));

function jwkOf(type: 'ec' | 'x25519' | 'ed25519', curve?: string) {
  const { publicKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: curve! }) : type === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('ed25519');
  return publicKey.export({ format: 'jwk' });
}
const bytes = (member: string | undefined) => Buffer.from(member!, 'base64url');

const p256 = () => jwkOf('ec', 'P-256');
const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
const E65537 = Buffer.of(1, 0, 1);
/** A modulus of exactly `bits` bits (top bit set, odd): registration checks sizes, it verifies no signature. */
function modulus(bits: number): Buffer {
  const n = randomBytes(Math.ceil(bits / 8));
  n[0] = (n[0]! | 0x80) >> ((8 - (bits % 8)) % 8);
  n[n.length - 1]! |= 1;
  return n;
}
const rsaKey = (n: Uint8Array, e: Uint8Array, alg = -257) =>
  cose([
    [1, 3],
    [3, alg],
    [-1, n],
    [-2, e],
  ]);

async function register(email: string, authenticator: SoftAuthenticator, coseKey?: Uint8Array) {
  const start = await service.request('POST', '/v1/challenges', { email });
  expect(start.status).toBe(200);
  const registration = await authenticator.createCredential(start.body.options, coseKey ? { coseKey } : {});
  return service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
}

describe('public keys accepted at registration', () => {
  it('RS256 with a 2048-bit modulus and e = 65537: registers and signs in', async () => {
    const authenticator = new SoftAuthenticator({ algorithm: 'RS256' });
    const finish = await register('rsa@example.com', authenticator);
    expect(finish.status).toBe(201);
    expect((await signIn(service, authenticator, 'rsa@example.com')).status).toBe(200);
  });

  it.each<[string, () => Uint8Array]>([
    [
      'ES256 on P-256',
      () => {
        const jwk = p256();
        return cose([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'EdDSA on Ed25519',
      () =>
        cose([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, bytes(jwkOf('ed25519').x)],
        ]),
    ],
    ['RS256 with a 4096-bit modulus', () => rsaKey(modulus(4096), E65537)],
    ['RS256 with a modulus led by a zero byte', () => rsaKey(Buffer.concat([Buffer.of(0), bytes(rsa2048.n)]), E65537)],
  ])('%s -> 201, the key stored as sent', async (_name, makeKey) => {
    const key = makeKey();
    const finish = await register('ok@example.com', new SoftAuthenticator(), key);
    expect(finish.status).toBe(201);
    const row = await service.deps.db.selectFrom('credentials').select('public_key').executeTakeFirstOrThrow();
    expect(row.public_key).toBe(Buffer.from(key).toString('hex'));
  });
});

describe('public keys refused at registration -> 400 registration_failed, nothing stored', () => {
  const refused: [string, () => Uint8Array | Promise<Uint8Array>][] = [
    [
      'ES256 labelled crv P-384 (a P-256 point)',
      () => {
        const jwk = p256();
        return cose([
          [1, 2],
          [3, -7],
          [-1, 2],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'ES256 with a real P-384 key',
      () => {
        const jwk = jwkOf('ec', 'P-384');
        return cose([
          [1, 2],
          [3, -7],
          [-1, 2],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'ES256 with crv secp256k1',
      () => {
        const jwk = jwkOf('ec', 'secp256k1');
        return cose([
          [1, 2],
          [3, -7],
          [-1, 8],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'ES256 with a point not on P-256',
      () =>
        cose([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.alloc(32, 1)],
          [-3, Buffer.alloc(32, 2)],
        ]),
    ],
    [
      'ES256 with y missing',
      () =>
        cose([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, bytes(p256().x)],
        ]),
    ],
    [
      'ES256 with x as a number',
      () =>
        cose([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, 7],
          [-3, bytes(p256().y)],
        ]),
    ],
    [
      'ES256 with a 33-byte x',
      () => {
        const jwk = p256();
        return cose([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.concat([Buffer.of(0), bytes(jwk.x)])],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'ES256 under kty OKP',
      () =>
        cose([
          [1, 1],
          [3, -7],
          [-1, 6],
          [-2, bytes(jwkOf('ed25519').x)],
        ]),
    ],
    [
      'EdDSA on a P-256 key (kty EC2)',
      () => {
        const jwk = p256();
        return cose([
          [1, 2],
          [3, -8],
          [-1, 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
    [
      'X25519 (OKP crv 4) under EdDSA',
      () =>
        cose([
          [1, 1],
          [3, -8],
          [-1, 4],
          [-2, bytes(jwkOf('x25519').x)],
        ]),
    ],
    [
      'EdDSA with a 31-byte x',
      () =>
        cose([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, bytes(jwkOf('ed25519').x).subarray(1)],
        ]),
    ],
    ['RS256 with e = 1', () => rsaKey(bytes(rsa2048.n), Buffer.of(1))],
    [
      'RS256 with e = 3',
      () => rsaKey(bytes(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey.export({ format: 'jwk' }).n), Buffer.of(3)),
    ],
    ['RS256 with a 3071-bit e', () => rsaKey(modulus(3072), modulus(3071))],
    [
      'RS256 with a 1024-bit modulus',
      () => {
        const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
        return rsaKey(bytes(jwk.n), bytes(jwk.e));
      },
    ],
    ['RS256 with a 2047-bit modulus', () => rsaKey(modulus(2047), E65537)],
    ['RS256 with a 4097-bit modulus', () => rsaKey(modulus(4097), E65537)],
    [
      'RS256 with e missing',
      () =>
        cose([
          [1, 3],
          [3, -257],
          [-1, bytes(rsa2048.n)],
        ]),
    ],
    ['RSA labelled ES256', () => rsaKey(bytes(rsa2048.n), E65537, -7)],
    [
      'a key with no kty',
      () => {
        const jwk = p256();
        return cose([
          [3, -7],
          [-1, 1],
          [-2, bytes(jwk.x)],
          [-3, bytes(jwk.y)],
        ]);
      },
    ],
  ];

  it.each(refused)('%s', async (_name, makeKey) => {
    const finish = await register('refused@example.com', new SoftAuthenticator(), await makeKey());
    expect(finish.status).toBe(400);
    expect(finish.body).toMatchObject({ code: 'registration_failed', status: 400 });
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0, sessions: 0 });
  });

  it('an RSA key with e = 3 from an authenticator -> refused when adding a passkey too', async () => {
    const owner = new SoftAuthenticator();
    const signedUp = await register('owner@example.com', owner);
    expect(signedUp.status).toBe(201);
    const start = await service.request('POST', '/v1/challenges', {}, { authorization: `Bearer ${signedUp.body.token}` });
    const registration = await new SoftAuthenticator({ algorithm: 'RS256', rsa: { publicExponent: 3 } }).createCredential(start.body.options);
    const finish = await service.request(
      'PUT',
      '/v1/challenges',
      { challengeId: start.body.challengeId, registration },
      { authorization: `Bearer ${signedUp.body.token}` },
    );
    expect(finish.status).toBe(400);
    expect(finish.body.code).toBe('registration_failed');
    expect(await tableCounts(service.deps)).toMatchObject({ users: 1, credentials: 1 });
  });
});
