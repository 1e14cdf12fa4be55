// The world a fuzz spec shares between its properties: one service with rate limits off
// (they would turn the runs into 429s), alice signed up with one passkey and her live
// token, real-looking WebAuthn responses as templates, and well-formed tokens that must
// never be accepted. For the email endpoints: alice's email is not proven yet and has a
// verification code pending, carol (not proven either) has a recovery pending, and dave's
// email is proven. The world knows both pending codes, so that a template can carry a
// well-formed code that is surely wrong and reach the comparison. Every run reads the
// database right before and right after its request, and then settles the world (settle),
// so runs, and fast-check's shrinking, do not depend on each other.
import { randomUUID } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { EmailCodePurpose } from '../../../server/db/schema.js';
import { issueCode } from '../../../server/email/codes.js';
import { signUp, SoftAuthenticator, startService, type TestService } from '../../helpers/service.js';
import { b64 } from './bytes.js';

export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const CAROL = 'carol@example.com';
export const DAVE = 'dave@example.com';
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
  userIds: { alice: string; carol: string };
  verifiedToken: string; // dave's live session token: his email is proven
  /** Live, known and untried before every run (settle): alice's verification code, carol's recovery (id: the recoveryId). */
  pending: { verification: PendingCode; recovery: PendingCode };
}

export interface PendingCode {
  id: string;
  code: string;
}

/** A well-formed code that is not `code`, as people type it (a space in the middle). */
export function wrongCode(code: string): string {
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  return `${wrong.slice(0, 3)} ${wrong.slice(3)}`;
}

async function openWorld(env: Record<string, string>): Promise<World> {
  const service = await startService({ RATE_LIMIT_ENABLED: 'false', ...env });
  const alice = new SoftAuthenticator();
  const { token, credential, userId } = await signUp(service, alice, ALICE);
  const carol = await signUp(service, new SoftAuthenticator(), CAROL);
  const dave = await signUp(service, new SoftAuthenticator(), DAVE);
  await service.deps.db.updateTable('users').set({ email_verified_at: service.clock.now.toISOString() }).where('id', '=', dave.userId).execute();
  // Real-looking responses for templates (their challenges are never finished).
  const start = await service.request('POST', '/v1/challenges', { email: 'template@example.com' });
  const registration = await new SoftAuthenticator().createCredential(start.body.options);
  const signInStart = await service.request('POST', '/v1/tokens', { email: ALICE });
  const authentication = await alice.getAssertion(signInStart.body.options);
  const world: World = {
    service,
    alice,
    token,
    credentialId: credential.id,
    samples: { registration, authentication },
    forgedTokens: await forgeTokens(service, token),
    userIds: { alice: userId, carol: carol.userId },
    verifiedToken: dave.token,
    pending: { verification: { id: '', code: '' }, recovery: { id: '', code: '' } },
  };
  await settle(world);
  return world;
}

/** A code the service would issue (the same function), issued here so that the world knows it. */
async function issue(world: World, purpose: EmailCodePurpose, userId: string, email: string): Promise<PendingCode> {
  const { deps } = world.service;
  return deps.db.transaction().execute((trx) => issueCode(trx, deps, { purpose, userId, email }));
}

/**
 * Puts back what a run may have used up: alice's verification code and carol's recovery
 * are live, known and untried again. A code another code replaced (a new one asked for),
 * or that expired (a spec moves the clock), is issued anew; tries spent are given back,
 * so that every well-formed guess reaches the comparison, not only the first five.
 */
export async function settle(world: World): Promise<void> {
  const { deps } = world.service;
  const { verification, recovery } = world.pending;
  const ids = [verification.id, recovery.id];
  const rows = await deps.db.selectFrom('email_codes').select(['id', 'attempts', 'expires_at']).where('id', 'in', ids).execute();
  const now = deps.now().toISOString();
  const live = (id: string) => rows.some((row) => row.id === id && row.expires_at > now);
  if (!live(verification.id)) world.pending.verification = await issue(world, 'verify', world.userIds.alice, ALICE);
  if (!live(recovery.id)) world.pending.recovery = await issue(world, 'recover', world.userIds.carol, CAROL);
  if (rows.some((row) => row.attempts > 0)) await deps.db.updateTable('email_codes').set({ attempts: 0 }).where('id', 'in', ids).execute();
}

/** The world of a spec file; `env` adds to (or overrides) its service's environment. */
export function useWorld(env: Record<string, string> = {}): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await openWorld(env);
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
