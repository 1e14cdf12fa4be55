// The admin API through HTTP: only an admin key opens it; users are created, found,
// paged, changed and deleted with the database checked afterwards; enrolment tickets are
// single-use, expire, and sign the person in; tokens carry the site's external_id.
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../server/http/auth.js';
import { sweepExpired } from '../../server/sweep.js';
import { apiKey, bearer, SoftAuthenticator, signIn, signUp, startService, tableCounts, type TestService } from '../helpers/service.js';

const adminKey = 'admin-key-0123456789abcdef';
const admin = { 'x-api-key': adminKey };
let service: TestService;

beforeEach(async () => {
  service = await startService({ ADMIN_API_KEYS: `${adminKey},second-admin-key-0123456789`, ORIGINS: 'http://localhost:3000,http://localhost:4000' });
});

afterEach(async () => {
  await service.close();
});

const create = (body: Record<string, unknown>) => service.request('POST', '/v1/admin/users', body, admin);
const enrol = (id: string, body: Record<string, unknown> = {}) => service.request('POST', `/v1/admin/users/${id}/enrollments`, body, admin);

/** A ticket's registration from start to signed in; returns the 201 body. */
async function redeem(ticket: string, authenticator = new SoftAuthenticator()) {
  const started = await service.request('POST', '/v1/challenges', { ticket });
  expect(started.status).toBe(200);
  const registration = await authenticator.createCredential(started.body.options);
  const finished = await service.request('PUT', '/v1/challenges', { challengeId: started.body.challengeId, registration });
  expect(finished.status).toBe(201);
  return finished.body as { userId: string; token: string; credential: { id: string } };
}

describe('admin keys', () => {
  it.each<[string, Record<string, string>]>([
    ['no key', {}],
    ['an introspection key', { 'x-api-key': apiKey }],
    ['a wrong key of the right length', { 'x-api-key': 'admin-key-0123456789abcdeX' }],
    ['the key as a bearer token', { authorization: `Bearer ${adminKey}` }],
  ])('%s -> 401 unauthorized on every admin route, and nothing written', async (_what, headers) => {
    const before = await tableCounts(service.deps);
    for (const [method, path] of [
      ['POST', '/v1/admin/users'],
      ['GET', '/v1/admin/users'],
      ['GET', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70'],
      ['PATCH', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70'],
      ['DELETE', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70'],
      ['POST', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70/enrollments'],
      ['DELETE', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70/sessions'],
      ['GET', '/v1/admin/events'],
    ] as const) {
      const reply = await service.request(method, path, method === 'GET' || method === 'DELETE' ? undefined : { email: 'eve@example.com' }, headers);
      expect(reply.status, `${method} ${path}`).toBe(401);
      expect(reply.body.code).toBe('unauthorized');
    }
    expect(await tableCounts(service.deps)).toEqual(before);
  });

  it('an admin key may introspect', async () => {
    const { token } = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const reply = await service.request('POST', '/v1/tokens/introspect', { token }, admin);
    expect(reply.body).toMatchObject({ active: true, email: 'alice@example.com' });
  });

  it('the admin API answers no CORS preflight and grants no origin', async () => {
    const preflight = await service.request('OPTIONS', '/v1/admin/users', undefined, {
      origin: 'http://localhost:4000',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'x-api-key,content-type',
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const list = await service.request('GET', '/v1/admin/users', undefined, { ...admin, origin: 'http://localhost:4000' });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBeNull();
    // The public API still answers that origin.
    const features = await service.request('GET', '/v1/features', undefined, { origin: 'http://localhost:4000' });
    expect(features.headers.get('access-control-allow-origin')).toBe('http://localhost:4000');
  });

  it('are rate limited per IP', async () => {
    await service.close();
    service = await startService({ ADMIN_API_KEYS: adminKey, RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_ADMIN_PER_IP: '2' });
    expect((await service.request('GET', '/v1/admin/users', undefined, admin)).status).toBe(200);
    expect((await service.request('GET', '/v1/admin/users', undefined, admin)).status).toBe(200);
    const limited = await service.request('GET', '/v1/admin/users', undefined, admin);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).not.toBeNull();
  });
});

describe('users', () => {
  it('are created with externalId and a vouched-for email, found by id, email and externalId, and audited with the key', async () => {
    const created = await create({ email: 'Alice@Example.com', displayName: 'Alice', externalId: 'crm-42', emailVerified: true });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: 'alice@example.com',
      emailVerified: true,
      displayName: 'Alice',
      externalId: 'crm-42',
      createdAt: service.clock.now.toISOString(),
      credentialCount: 0,
    });
    const id = created.body.id;
    const row = await service.deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ email: 'alice@example.com', external_id: 'crm-42', email_verified_at: service.clock.now.toISOString() });
    expect(row.user_handle).not.toContain('alice');

    expect((await service.request('GET', `/v1/admin/users/${id}`, undefined, admin)).body).toEqual(created.body);
    expect((await service.request('GET', '/v1/admin/users?email=ALICE@example.com', undefined, admin)).body.users).toEqual([created.body]);
    expect((await service.request('GET', '/v1/admin/users?externalId=crm-42', undefined, admin)).body.users).toEqual([created.body]);
    expect((await service.request('GET', '/v1/admin/users?externalId=crm-43', undefined, admin)).body.users).toEqual([]);

    const events = await service.deps.db.selectFrom('audit_events').selectAll().where('user_id', '=', id).execute();
    expect(events).toMatchObject([{ type: 'user.created', actor: `admin:${keyFingerprint(adminKey)}` }]);
    expect(JSON.stringify(events)).not.toContain(adminKey);
  });

  it('a taken email -> 409 account_exists; a taken externalId -> 409 external_id_exists; nothing written', async () => {
    await create({ email: 'alice@example.com', externalId: 'crm-1' });
    const before = await tableCounts(service.deps);
    expect((await create({ email: 'alice@example.com' })).body.code).toBe('account_exists');
    const taken = await create({ email: 'bob@example.com', externalId: 'crm-1' });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('external_id_exists');
    expect(await tableCounts(service.deps)).toEqual(before);
  });

  it('unknown -> 404 not_found; a malformed id -> 400', async () => {
    expect((await service.request('GET', '/v1/admin/users/0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70', undefined, admin)).body.code).toBe('not_found');
    expect((await service.request('GET', '/v1/admin/users/nope', undefined, admin)).status).toBe(400);
  });

  it('are listed newest first, and the cursor pages stay stable while users are added', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await create({ email: `user${i}@example.com` })).body.id);
      service.clock.advance(1);
    }
    const first = await service.request('GET', '/v1/admin/users?limit=2', undefined, admin);
    expect(first.body.users.map((u: { id: string }) => u.id)).toEqual([ids[4], ids[3]]);
    // Users added between pages are newer than the cursor: they never shift the pages after it.
    await create({ email: 'late@example.com' });
    const second = await service.request('GET', `/v1/admin/users?limit=2&cursor=${first.body.next}`, undefined, admin);
    expect(second.body.users.map((u: { id: string }) => u.id)).toEqual([ids[2], ids[1]]);
    const third = await service.request('GET', `/v1/admin/users?limit=2&cursor=${second.body.next}`, undefined, admin);
    expect(third.body).toEqual({ users: [expect.objectContaining({ id: ids[0] })], next: null });
    expect((await service.request('GET', '/v1/admin/users?cursor=garbage', undefined, admin)).status).toBe(400);
  });

  it('are updated: display name, externalId (null removes it), emailVerified', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    await create({ email: 'bob@example.com', externalId: 'taken' });
    const patch = (body: Record<string, unknown>) => service.request('PATCH', `/v1/admin/users/${user.id}`, body, admin);
    expect((await patch({ displayName: 'Alice A.', externalId: 'crm-7', emailVerified: true })).body).toMatchObject({
      displayName: 'Alice A.',
      externalId: 'crm-7',
      emailVerified: true,
    });
    expect((await patch({ externalId: 'taken' })).body.code).toBe('external_id_exists');
    expect((await patch({ externalId: null, emailVerified: false })).body).toMatchObject({ externalId: null, emailVerified: false });
    const row = await service.deps.db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ display_name: 'Alice A.', external_id: null, email_verified_at: null });
    const details = (await service.deps.db.selectFrom('audit_events').select('detail').where('type', '=', 'user.updated').execute()).map((e) => e.detail);
    expect(details).toEqual(['displayName, externalId, emailVerified', 'externalId, emailVerified']);
  });
});

describe('deleting a user', () => {
  it('removes every row about them at once; their tokens fail /v1/me and introspection; one user.deleted event remains', async () => {
    const authenticator = new SoftAuthenticator();
    const { userId, token } = await signUp(service, authenticator, 'alice@example.com');
    const other = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    await signIn(service, authenticator, 'alice@example.com');
    await service.request('POST', '/v1/recovery', { email: 'alice@example.com' });
    await enrol(userId);
    await service.request('POST', '/v1/tokens', { email: 'alice@example.com' });

    const reply = await service.request('DELETE', `/v1/admin/users/${userId}`, undefined, admin);
    expect(reply.status).toBe(204);
    expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(401);
    expect((await service.request('POST', '/v1/tokens/introspect', { token }, admin)).body).toEqual({ active: false });
    for (const table of ['credentials', 'sessions', 'challenges', 'email_codes', 'enrollment_tickets'] as const) {
      const left = await service.deps.db
        .selectFrom(table)
        .selectAll()
        .where('user_id' as never, '=', userId as never)
        .execute();
      expect(left, table).toEqual([]);
    }
    expect(await service.deps.db.selectFrom('users').selectAll().where('id', '=', userId).execute()).toEqual([]);
    const trail = await service.deps.db.selectFrom('audit_events').selectAll().where('user_id', '=', userId).execute();
    expect(trail).toMatchObject([{ type: 'user.deleted', actor: `admin:${keyFingerprint(adminKey)}`, credential_id: null, detail: null }]);
    // The other account is untouched.
    expect((await service.request('GET', '/v1/me', undefined, bearer(other.token))).status).toBe(200);
    expect((await service.request('DELETE', `/v1/admin/users/${userId}`, undefined, admin)).status).toBe(404);
  });

  it('while their ceremony is half-way: its finish fails and writes nothing', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    const { body: ticket } = await enrol(user.id);
    const started = await service.request('POST', '/v1/challenges', { ticket: ticket.ticket });
    expect((await service.request('DELETE', `/v1/admin/users/${user.id}`, undefined, admin)).status).toBe(204);
    const registration = await new SoftAuthenticator().createCredential(started.body.options);
    const finished = await service.request('PUT', '/v1/challenges', { challengeId: started.body.challengeId, registration });
    expect(finished.status).toBe(400);
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, sessions: 0, challenges: 0 });
  });
});

describe("a user's passkeys and sessions", () => {
  it('the admin removes even the last passkey, and the sessions it opened end', async () => {
    const authenticator = new SoftAuthenticator();
    const { userId, token, credential } = await signUp(service, authenticator, 'alice@example.com');
    const listed = await service.request('GET', `/v1/admin/users/${userId}/credentials`, undefined, admin);
    expect(listed.body.credentials).toMatchObject([{ id: credential.id }]);
    expect((await service.request('DELETE', `/v1/admin/users/${userId}/credentials/${credential.id}`, undefined, admin)).status).toBe(204);
    expect(await service.deps.db.selectFrom('credentials').selectAll().execute()).toEqual([]);
    expect((await service.request('GET', '/v1/me', undefined, bearer(token))).status).toBe(401);
    expect((await signIn(service, authenticator, 'alice@example.com')).status).toBe(401);
    expect((await service.request('DELETE', `/v1/admin/users/${userId}/credentials/${credential.id}`, undefined, admin)).status).toBe(404);
  });

  it('revoking every session of a user ends all of them, and no one else’s', async () => {
    const authenticator = new SoftAuthenticator();
    const { userId, token } = await signUp(service, authenticator, 'alice@example.com');
    const second = await signIn(service, authenticator, 'alice@example.com');
    const bob = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    expect((await service.request('DELETE', `/v1/admin/users/${userId}/sessions`, undefined, admin)).status).toBe(204);
    for (const t of [token, second.body.token]) expect((await service.request('GET', '/v1/me', undefined, bearer(t))).status).toBe(401);
    expect((await service.request('GET', '/v1/me', undefined, bearer(bob.token))).status).toBe(200);
    const live = await service.deps.db.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    expect(live).toEqual([]);
  });
});

describe('enrolment tickets', () => {
  it('a ticket enrols the user: the passkey is stored, the person is signed in, and tokens carry external_id', async () => {
    const { body: user } = await create({ email: 'alice@example.com', externalId: 'crm-42' });
    const minted = await enrol(user.id);
    expect(minted.status).toBe(201);
    expect(minted.body).toEqual({
      ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresAt: new Date(service.clock.now.getTime() + 900_000).toISOString(),
    });
    // Only a hash is stored.
    const stored = await service.deps.db.selectFrom('enrollment_tickets').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(minted.body.ticket);

    const authenticator = new SoftAuthenticator();
    const finished = await redeem(minted.body.ticket, authenticator);
    expect(finished.userId).toBe(user.id);
    expect(decodeJwt(finished.token)).toMatchObject({ sub: user.id, email: 'alice@example.com', external_id: 'crm-42' });
    const introspected = await service.request('POST', '/v1/tokens/introspect', { token: finished.token }, { 'x-api-key': apiKey });
    expect(introspected.body).toMatchObject({ active: true, external_id: 'crm-42' });
    const signedIn = await signIn(service, authenticator, 'alice@example.com');
    expect(decodeJwt(signedIn.body.token).external_id).toBe('crm-42');
    expect((await service.request('GET', `/v1/admin/users/${user.id}`, undefined, admin)).body.credentialCount).toBe(1);
  });

  it('a user without externalId gets no external_id claim', async () => {
    const { token } = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    expect(decodeJwt(token)).not.toHaveProperty('external_id');
  });

  it('a used, expired or unknown ticket -> 400 invalid_ticket, nothing written', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    const used = (await enrol(user.id)).body.ticket;
    await redeem(used);
    const late = (await enrol(user.id, { ttlSeconds: 60 })).body.ticket;
    service.clock.advance(61);
    const before = await tableCounts(service.deps);
    for (const ticket of [used, late, 'A'.repeat(43)]) {
      const reply = await service.request('POST', '/v1/challenges', { ticket });
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalid_ticket');
    }
    expect(await tableCounts(service.deps)).toEqual(before);
  });

  it('expired tickets are swept', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    await enrol(user.id, { ttlSeconds: 60 });
    await enrol(user.id, { ttlSeconds: 120 });
    service.clock.advance(61);
    expect(await sweepExpired(service.deps)).toMatchObject({ enrollmentTickets: 1 });
    expect(await tableCounts(service.deps)).toMatchObject({ enrollment_tickets: 1 });
  });

  it('of concurrent starts with one ticket, exactly one wins', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    const { ticket } = (await enrol(user.id)).body;
    const replies = await Promise.all(Array.from({ length: 10 }, () => service.request('POST', '/v1/challenges', { ticket })));
    expect(replies.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(400)]);
  });

  it('a ticket for a deleted user -> 400 invalid_ticket', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    const { ticket } = (await enrol(user.id)).body;
    await service.request('DELETE', `/v1/admin/users/${user.id}`, undefined, admin);
    expect((await service.request('POST', '/v1/challenges', { ticket })).body.code).toBe('invalid_ticket');
  });

  it('lives 15 minutes unless asked, at most 7 days; a ticket with an email or a token -> 400', async () => {
    const { body: user } = await create({ email: 'alice@example.com' });
    expect((await enrol(user.id, { ttlSeconds: 7 * 24 * 3600 + 1 })).status).toBe(400);
    expect((await enrol(user.id, { ttlSeconds: 59 })).status).toBe(400);
    const { ticket } = (await enrol(user.id, { ttlSeconds: 7 * 24 * 3600 })).body;
    expect((await service.request('POST', '/v1/challenges', { ticket, email: 'alice@example.com' })).body.code).toBe('invalid_request');
    expect((await enrol('0191d3c2-4a8e-7c3f-9e1a-2b3c4d5e6f70')).status).toBe(404);
  });
});

describe('GET /v1/admin/events', () => {
  it("lists every user's events newest first, filtered by user and type, paged by cursor", async () => {
    const alice = await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    service.clock.advance(1);
    const bob = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    service.clock.advance(1);
    await service.request('DELETE', `/v1/admin/users/${bob.userId}/sessions`, undefined, admin);

    const all = await service.request('GET', '/v1/admin/events', undefined, admin);
    expect(all.body.events.map((e: { type: string; userId: string }) => [e.type, e.userId === alice.userId ? 'alice' : 'bob'])).toEqual([
      ['sessions.revoked', 'bob'],
      ['passkey.created', 'bob'],
      ['account.created', 'bob'],
      ['passkey.created', 'alice'],
      ['account.created', 'alice'],
    ]);
    expect(all.body.events[0]).toMatchObject({ actor: `admin:${keyFingerprint(adminKey)}`, detail: '1 sessions' });
    const mine = await service.request('GET', `/v1/admin/events?userId=${alice.userId}&type=passkey.created`, undefined, admin);
    expect(mine.body.events).toMatchObject([{ type: 'passkey.created', userId: alice.userId, actor: null }]);
    const page = await service.request('GET', '/v1/admin/events?limit=2', undefined, admin);
    const next = await service.request('GET', `/v1/admin/events?limit=2&before=${page.body.next}`, undefined, admin);
    expect(next.body.events.map((e: { type: string }) => e.type)).toEqual(['account.created', 'passkey.created']);
  });
});
