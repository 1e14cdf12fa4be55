// The world a fuzz spec shares between its properties: one service with rate limits off
// (they would turn the runs into 429s), alice signed up with one passkey and her live
// token, real-looking WebAuthn responses as templates, and well-formed tokens that must
// never be accepted. For the email endpoints: alice's email is not proven yet and has a
// verification code pending, carol (not proven either) has a recovery pending, and dave's
// email is proven. The world knows both pending codes, so that a template can carry a
// well-formed code that is surely wrong and reach the comparison. For the admin API (the
// service has an admin key): dave has an externalId, and erin, created by the admin API
// with an externalId, enrolled her passkey with a ticket, is signed in, and has a live
// ticket the world knows. Every run reads the database right before and right after its
// request, and then settles the world (settle), so runs, and fast-check's shrinking, do
// not depend on each other: the cast (alice, carol, dave, erin) is as it was, and nobody
// else has an account.
import { createHash, randomUUID } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { EmailCodePurpose } from '../../../server/db/schema.js';
import { issueCode } from '../../../server/email/codes.js';
import { keyFingerprint } from '../../../server/http/auth.js';
import { signUp, SoftAuthenticator, startService, type TestService } from '../../helpers/service.js';
import { b64 } from './bytes.js';

export const ALICE = 'alice@example.com';
export const BOB = 'bob@example.com';
export const CAROL = 'carol@example.com';
export const DAVE = 'dave@example.com';
export const ERIN = 'erin@example.com';
/** The service's admin key (ADMIN_API_KEYS), and the actor its actions are audited as. */
export const ADMIN_KEY = 'fuzz-admin-key-0123456789abcdef';
export const ADMIN = { 'x-api-key': ADMIN_KEY };
export const ADMIN_ACTOR = `admin:${keyFingerprint(ADMIN_KEY)}`;
/** The site's own ids of dave and erin. */
export const EXTERNAL_IDS = { dave: 'crm-dave', erin: 'crm-erin' } as const;
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
  userIds: { alice: string; carol: string; dave: string; erin: string };
  verifiedToken: string; // dave's live session token: his email is proven
  /** Live, known and untried before every run (settle): alice's verification code, carol's recovery (id: the recoveryId). */
  pending: { verification: PendingCode; recovery: PendingCode; ticket: string }; // ticket: erin's, live and unused
  /** Erin's only passkey and the one session it opened (live before every run). */
  erin: { credentialId: string; sessionJti: string };
  /** Every account there is before a run (settle deletes any other), by id, as it is then. */
  cast: Record<string, CastMember>;
  /** Erin's tickets that a run used up or let expire: the newest few. */
  spentTickets: string[];
}

export interface CastMember {
  email: string;
  displayName: string;
  externalId: string | null;
  emailVerifiedAt: string | null;
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

/** What a ticket is stored as. */
export const ticketHash = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

async function openWorld(env: Record<string, string>): Promise<World> {
  const service = await startService({ RATE_LIMIT_ENABLED: 'false', ADMIN_API_KEYS: ADMIN_KEY, ...env });
  const alice = new SoftAuthenticator();
  const { token, credential, userId } = await signUp(service, alice, ALICE);
  const carol = await signUp(service, new SoftAuthenticator(), CAROL);
  const dave = await signUp(service, new SoftAuthenticator(), DAVE);
  await service.deps.db.updateTable('users').set({ email_verified_at: service.clock.now.toISOString() }).where('id', '=', dave.userId).execute();
  await admin(service, 'PATCH', `/v1/admin/users/${dave.userId}`, { externalId: EXTERNAL_IDS.dave }, 200);
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
    userIds: { alice: userId, carol: carol.userId, dave: dave.userId, erin: '' },
    verifiedToken: dave.token,
    pending: { verification: { id: '', code: '' }, recovery: { id: '', code: '' }, ticket: '' },
    erin: { credentialId: '', sessionJti: '' },
    cast: {},
    spentTickets: [],
  };
  await enrolErin(world);
  world.cast = await castOf(world, Object.values(world.userIds));
  await settle(world);
  return world;
}

/** A request to the admin API that must get `status`; its body. */
async function admin(service: TestService, method: string, path: string, body: unknown, status: number) {
  const reply = await service.request(method, path, body, ADMIN);
  if (reply.status !== status) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Erin as a backend brings her in: created by the admin API, her passkey made with a ticket, and a live ticket. */
async function enrolErin(world: World): Promise<void> {
  const { service } = world;
  const user = await admin(service, 'POST', '/v1/admin/users', { email: ERIN, displayName: 'Erin', externalId: EXTERNAL_IDS.erin }, 201);
  const first = await admin(service, 'POST', `/v1/admin/users/${user.id}/enrollments`, {}, 201);
  const start = await service.request('POST', '/v1/challenges', { ticket: first.ticket });
  const registration = await new SoftAuthenticator().createCredential(start.body.options);
  const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
  if (finish.status !== 201) throw new Error(`erin's enrolment: ${finish.status} ${JSON.stringify(finish.body)}`);
  world.userIds.erin = user.id;
  world.erin = { credentialId: finish.body.credential.id, sessionJti: decodeJwt(finish.body.token).jti! };
  world.pending.ticket = (await admin(service, 'POST', `/v1/admin/users/${user.id}/enrollments`, {}, 201)).ticket;
}

/** Makes an account a spec adds to its world one of the cast, which settle keeps as it is now. */
export async function joinCast(world: World, userId: string): Promise<void> {
  Object.assign(world.cast, await castOf(world, [userId]));
}

async function castOf(world: World, ids: string[]): Promise<Record<string, CastMember>> {
  const rows = await world.service.deps.db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
  return Object.fromEntries(
    rows.map((row) => [row.id, { email: row.email, displayName: row.display_name, externalId: row.external_id, emailVerifiedAt: row.email_verified_at }]),
  );
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
 * so that every well-formed guess reaches the comparison, not only the first five. The
 * admin API's effects are undone: accounts outside the cast are deleted, the cast's
 * names, externalIds and proven emails are as they were, erin has her one passkey and
 * its live session again (or is brought in anew, if she or her passkey was deleted), and
 * a live ticket of hers is known.
 */
export async function settle(world: World): Promise<void> {
  await settleAccounts(world);
  const { deps } = world.service;
  const { verification, recovery } = world.pending;
  const ids = [verification.id, recovery.id];
  const rows = await deps.db.selectFrom('email_codes').select(['id', 'attempts', 'expires_at']).where('id', 'in', ids).execute();
  const now = deps.now().toISOString();
  const live = (id: string) => rows.some((row) => row.id === id && row.expires_at > now);
  if (!live(verification.id)) world.pending.verification = await issue(world, 'verify', world.userIds.alice, ALICE);
  if (!live(recovery.id)) world.pending.recovery = await issue(world, 'recover', world.userIds.carol, CAROL);
  if (rows.some((row) => row.attempts > 0)) await deps.db.updateTable('email_codes').set({ attempts: 0 }).where('id', 'in', ids).execute();
  const ticket = await deps.db
    .selectFrom('enrollment_tickets')
    .select('expires_at')
    .where('ticket_hash', '=', ticketHash(world.pending.ticket))
    .executeTakeFirst();
  if (!ticket || ticket.expires_at <= now) {
    world.spentTickets = [world.pending.ticket, ...world.spentTickets].slice(0, 5);
    world.pending.ticket = (await admin(world.service, 'POST', `/v1/admin/users/${world.userIds.erin}/enrollments`, {}, 201)).ticket;
  }
}

async function settleAccounts(world: World): Promise<void> {
  const { db } = world.service.deps;
  const { erin } = world;
  await db.deleteFrom('users').where('id', 'not in', Object.keys(world.cast)).execute();
  const passkey = await db
    .selectFrom('credentials')
    .select('id')
    .where('id', '=', erin.credentialId)
    .where('user_id', '=', world.userIds.erin)
    .executeTakeFirst();
  if (!passkey) {
    await db.deleteFrom('users').where('id', '=', world.userIds.erin).execute();
    delete world.cast[world.userIds.erin];
    world.spentTickets = [];
    await enrolErin(world);
    Object.assign(world.cast, await castOf(world, [world.userIds.erin]));
    return settleAccounts(world);
  }
  // A ticket's enrolment adds a passkey and a session: only the first ones stay.
  await db.deleteFrom('credentials').where('user_id', '=', world.userIds.erin).where('id', '!=', erin.credentialId).execute();
  await db.deleteFrom('sessions').where('user_id', '=', world.userIds.erin).where('jti', '!=', erin.sessionJti).execute();
  await db.updateTable('sessions').set({ revoked_at: null }).where('jti', '=', erin.sessionJti).where('revoked_at', 'is not', null).execute();
  const now = await castOf(world, Object.keys(world.cast));
  for (const [id, member] of Object.entries(world.cast)) {
    if (JSON.stringify(now[id]) === JSON.stringify(member)) continue;
    await db
      .updateTable('users')
      .set({ display_name: member.displayName, external_id: member.externalId, email_verified_at: member.emailVerifiedAt })
      .where('id', '=', id)
      .execute();
  }
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
