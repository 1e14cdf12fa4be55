// The world a fuzz spec shares between its properties: one service with rate limits off
// (they would turn the runs into 429s), alice signed up with one passkey and her live
// token, real-looking WebAuthn responses as templates, and well-formed tokens that must
// never be accepted. Every run reads the database right before and right after its
// request, so runs, and fast-check's shrinking, do not depend on each other.
import { randomUUID } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { signUp, SoftAuthenticator, startService, type TestService } from '../../helpers/service.js';
import { b64 } from './bytes.js';

export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const BODY_LIMIT = 64 * 1024; // express.json({ limit: '64kb' }), in bytes
export const JSON_TYPE = { 'content-type': 'application/json' };
export const RUN_TIMEOUT = 120_000;

export interface World {
  service: TestService;
  alice: SoftAuthenticator;
  token: string; // alice's live session token
  credentialId: string; // hex id of alice's only passkey
  samples: { registration: RegistrationResponseJSON; authentication: AuthenticationResponseJSON };
  forgedTokens: string[]; // well-formed JWTs that must never be accepted
}

async function openWorld(): Promise<World> {
  const service = await startService({ RATE_LIMIT_ENABLED: 'false' });
  const alice = new SoftAuthenticator();
  const { token, credential } = await signUp(service, alice, ALICE);
  // Real-looking responses for templates (their challenges are never finished).
  const start = await service.request('POST', '/v1/challenges', { email: 'template@example.com' });
  const registration = await new SoftAuthenticator().createCredential(start.body.options);
  const signInStart = await service.request('POST', '/v1/tokens', { email: ALICE });
  const authentication = await alice.getAssertion(signInStart.body.options);
  return {
    service,
    alice,
    token,
    credentialId: credential.id,
    samples: { registration, authentication },
    forgedTokens: await forgeTokens(service, token),
  };
}

export function useWorld(): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await openWorld();
  });
  afterAll(async () => {
    await world?.service.close();
  });
  return () => world!;
}

/** Well-formed JWTs that must not verify: alg none, a foreign key, and the service's own key
 * on claims no session backs (unknown jti, someone else's sub, expired, wrong iss or aud). */
async function forgeTokens(service: TestService, token: string): Promise<string[]> {
  const { deps } = service;
  const claims = decodeJwt(token);
  const { alg, kid } = decodeProtectedHeader(token);
  const sign = (
    key: CryptoKey | Uint8Array,
    payload: Record<string, unknown>,
    header: { alg: string; kid?: string; typ?: string } = { alg: alg!, kid, typ: 'JWT' },
  ) => new SignJWT(payload).setProtectedHeader(header).sign(key);
  const foreign = await generateKeyPair(alg!);
  const own = deps.keys.privateKey;
  const now = Math.floor(deps.now().getTime() / 1000);
  const unsigned = `${b64(new TextEncoder().encode(JSON.stringify({ alg: 'none', typ: 'JWT' })))}.${token.split('.')[1]}.`;
  return [
    unsigned,
    await sign(foreign.privateKey, claims),
    await sign(own, { ...claims, jti: randomUUID() }),
    await sign(own, { ...claims, sub: randomUUID() }),
    await sign(own, { ...claims, iat: now - 7200, exp: now - 3600 }),
    await sign(own, { ...claims, aud: 'someone-else' }),
    await sign(own, { ...claims, iss: 'https://evil.example' }),
    await sign(new TextEncoder().encode(JSON.stringify(deps.keys.jwks)), claims, { alg: 'HS256', kid }),
  ];
}
