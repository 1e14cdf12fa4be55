// A session token travels (to a site's backends, to every script on a page that
// embeds the form): it must not be enough to take the account over. Changing how an
// account signs in needs a recent passkey proof, and the owner can see and end every
// other session.
import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditTrail, bearer, signIn, signUp, SoftAuthenticator, startService, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
let phone: SoftAuthenticator;
let owner: { userId: string; token: string };
beforeEach(async () => {
  service = await startService();
  phone = new SoftAuthenticator();
  owner = await signUp(service, phone, 'alice@example.com');
});
afterEach(() => service.close());

const REAUTH_MAX_AGE = 300;

async function startAdding(token: string) {
  return service.request('POST', '/v1/challenges', {}, bearer(token));
}

async function addPasskey(token: string, authenticator = new SoftAuthenticator()) {
  const start = await startAdding(token);
  expect(start.status).toBe(200);
  const registration = await authenticator.createCredential(start.body.options);
  return service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(token));
}

const deletePasskey = (token: string, id: string) => service.request('DELETE', `/v1/credentials/${id}`, undefined, bearer(token));
const sessions = (token: string) => service.request('GET', '/v1/sessions', undefined, bearer(token));
const me = (token: string) => service.request('GET', '/v1/me', undefined, bearer(token));

describe('a stolen token does not own the account', () => {
  it("the takeover (token only: add a passkey, delete the owner's) fails once the proof is old, and nothing changes", async () => {
    service.clock.advance(REAUTH_MAX_AGE + 1);
    const stolen = owner.token;
    const before = await tableCounts(service.deps);
    const start = await startAdding(stolen);
    expect(start.status).toBe(403);
    expect(start.body.code).toBe('reauthentication_required');
    const deleted = await deletePasskey(stolen, phone.credentials[0]!.idHex);
    expect(deleted.status).toBe(403);
    expect(deleted.body.code).toBe('reauthentication_required');
    expect(await tableCounts(service.deps)).toEqual(before);
    // The token still reads the account: reading is not changing how it signs in.
    expect((await me(stolen)).status).toBe(200);
  });

  it('a fresh sign-in with a passkey of the account lifts it: the new token adds and deletes', async () => {
    service.clock.advance(REAUTH_MAX_AGE + 1);
    const signedIn = await signIn(service, phone);
    expect(decodeJwt(signedIn.body.token).auth_time).toBe(service.clock.now.getTime() / 1000);
    const laptop = new SoftAuthenticator();
    const added = await addPasskey(signedIn.body.token, laptop);
    expect(added.status).toBe(201);
    expect(added.body.token).toBe(signedIn.body.token);
    expect((await deletePasskey(signedIn.body.token, laptop.credentials[0]!.idHex)).status).toBe(204);
  });

  it('a proof exactly REAUTH_MAX_AGE_SECONDS old still counts; one second older does not', async () => {
    service.clock.advance(REAUTH_MAX_AGE);
    expect((await startAdding(owner.token)).status).toBe(200);
    service.clock.advance(1);
    expect((await startAdding(owner.token)).status).toBe(403);
  });

  it('the finish needs a recent proof too: started in time, finished too late -> 403, nothing stored', async () => {
    service.clock.advance(REAUTH_MAX_AGE - 10);
    const start = await startAdding(owner.token);
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    service.clock.advance(11); // the challenge is still valid; the proof no longer recent
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(owner.token));
    expect(finish.status).toBe(403);
    expect(finish.body.code).toBe('reauthentication_required');
    expect(await tableCounts(service.deps)).toMatchObject({ credentials: 1, sessions: 1 });
  });

  it('REAUTH_MAX_AGE_SECONDS sets the window', async () => {
    const strict = await startService({ REAUTH_MAX_AGE_SECONDS: '60' });
    try {
      const account = await signUp(strict, new SoftAuthenticator(), 'bob@example.com');
      strict.clock.advance(61);
      expect((await strict.request('POST', '/v1/challenges', {}, bearer(account.token))).status).toBe(403);
    } finally {
      await strict.close();
    }
  });

  it("adding a passkey never opens a session: the session count stays, the answer is the caller's token", async () => {
    const added = await addPasskey(owner.token);
    expect(added.status).toBe(201);
    expect(added.body.token).toBe(owner.token);
    expect(await tableCounts(service.deps)).toMatchObject({ credentials: 2, sessions: 1 });
  });
});

describe('GET /v1/sessions', () => {
  it('lists the live sessions, newest first, with the current one marked', async () => {
    service.clock.advance(10);
    const second = (await signIn(service, phone)).body.token as string;
    const reply = await sessions(owner.token);
    expect(reply.status).toBe(200);
    const [newest, oldest] = reply.body.sessions;
    expect(reply.body.sessions).toHaveLength(2);
    expect(newest).toEqual({
      id: decodeJwt(second).jti,
      createdAt: service.clock.now.toISOString(),
      expiresAt: new Date(service.clock.now.getTime() + 3600_000).toISOString(),
      authTime: service.clock.now.toISOString(),
      credentialId: phone.credentials[0]!.idHex,
      ip: '127.0.0.1',
      current: false,
    });
    expect(oldest).toMatchObject({ id: decodeJwt(owner.token).jti, current: true });
  });

  it("leaves out ended and expired sessions, and other accounts' sessions", async () => {
    const bob = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    const ended = (await signIn(service, phone)).body.token as string;
    expect((await service.request('DELETE', '/v1/sessions/current', undefined, bearer(ended))).status).toBe(204);
    expect((await sessions(owner.token)).body.sessions.map((s: { id: string }) => s.id)).toEqual([decodeJwt(owner.token).jti]);
    expect((await sessions(bob.token)).body.sessions).toHaveLength(1);
  });

  it('without a valid token -> 401 unauthorized', async () => {
    expect((await service.request('GET', '/v1/sessions')).status).toBe(401);
  });
});

describe('DELETE /v1/sessions/:id', () => {
  it('ends that session: its token fails /v1/me and introspection; the audit trail says so', async () => {
    const other = (await signIn(service, phone)).body.token as string;
    const id = decodeJwt(other).jti!;
    const reply = await service.request('DELETE', `/v1/sessions/${id}`, undefined, bearer(owner.token));
    expect(reply.status).toBe(204);
    expect((await me(other)).status).toBe(401);
    expect((await me(owner.token)).status).toBe(200);
    const row = await service.deps.db.selectFrom('sessions').selectAll().where('jti', '=', id).executeTakeFirstOrThrow();
    expect(row.revoked_at).toBe(service.clock.now.toISOString());
    expect((await auditTrail(service.deps, owner.userId)).filter((e) => e.type === 'session.revoked').map((e) => e.detail)).toEqual([id]);
  });

  it("another account's session, an ended one, or an unknown id -> 404 not_found, nothing changes", async () => {
    const bob = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    const ended = (await signIn(service, phone)).body.token as string;
    await service.request('DELETE', '/v1/sessions/current', undefined, bearer(ended));
    for (const id of [decodeJwt(bob.token).jti, decodeJwt(ended).jti, '00000000-0000-4000-8000-000000000000']) {
      const reply = await service.request('DELETE', `/v1/sessions/${id}`, undefined, bearer(owner.token));
      expect(reply.status).toBe(404);
      expect(reply.body.code).toBe('not_found');
    }
    expect((await me(bob.token)).status).toBe(200);
  });

  it('an id that is not a session id -> 400 invalid_request', async () => {
    const reply = await service.request('DELETE', '/v1/sessions/not-an-id', undefined, bearer(owner.token));
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('invalid_request');
  });
});

describe('DELETE /v1/sessions (sign out everywhere else)', () => {
  it("ends every session of the account but the caller's, and no other account's", async () => {
    const intruder = (await signIn(service, phone)).body.token as string;
    const another = (await signIn(service, phone)).body.token as string;
    const bob = await signUp(service, new SoftAuthenticator(), 'bob@example.com');
    const reply = await service.request('DELETE', '/v1/sessions', undefined, bearer(owner.token));
    expect(reply.status).toBe(204);
    expect((await me(intruder)).status).toBe(401);
    expect((await me(another)).status).toBe(401);
    expect((await me(owner.token)).status).toBe(200);
    expect((await me(bob.token)).status).toBe(200);
    expect((await sessions(owner.token)).body.sessions.map((s: { current: boolean }) => s.current)).toEqual([true]);
    const revoked = (await auditTrail(service.deps, owner.userId)).filter((e) => e.type === 'session.revoked');
    expect(revoked.map((e) => e.detail).sort()).toEqual([decodeJwt(intruder).jti, decodeJwt(another).jti].sort());
  });

  it("the intruder's stolen token, once ended, adds no passkey even after the owner deleted theirs", async () => {
    const intruder = (await signIn(service, phone)).body.token as string;
    expect((await service.request('DELETE', '/v1/sessions', undefined, bearer(owner.token))).status).toBe(204);
    const start = await startAdding(intruder);
    expect(start.status).toBe(401);
    expect(start.body.code).toBe('unauthorized');
  });
});
