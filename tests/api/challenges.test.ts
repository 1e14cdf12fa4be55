import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signUp, SoftAuthenticator, startService, startSignIn, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
beforeEach(async () => (service = await startService({ CHALLENGE_TTL_SECONDS: '120' })));
afterEach(() => service.close());

async function account(email = 'alice@example.com') {
  const authenticator = new SoftAuthenticator();
  await signUp(service, authenticator, email);
  return authenticator;
}

describe('challenges are single use', () => {
  it('a replayed sign-in (same challenge, same response) -> 401 authentication_failed', async () => {
    const authenticator = await account();
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await authenticator.getAssertion(options);
    expect((await service.request('PUT', '/v1/tokens', { challengeId, authentication })).status).toBe(200);
    const replay = await service.request('PUT', '/v1/tokens', { challengeId, authentication });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('authentication_failed');
  });

  it('of 10 concurrent finishes of one sign-in challenge exactly one succeeds', async () => {
    const authenticator = await account();
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await authenticator.getAssertion(options);
    const replies = await Promise.all(Array.from({ length: 10 }, () => service.request('PUT', '/v1/tokens', { challengeId, authentication })));
    expect(replies.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(401)]);
    expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0, sessions: 2 });
    // The nine that lost the race are replays of the winner's assertion: no failed sign-ins in the audit trail.
    const events = await service.deps.db.selectFrom('audit_events').select('type').where('type', 'not in', ['account.created', 'passkey.created']).execute();
    expect(events).toEqual([{ type: 'passkey.used' }]);
  });

  it('of 10 concurrent finishes of one sign-up challenge exactly one succeeds', async () => {
    const start = (await service.request('POST', '/v1/challenges', { email: 'bob@example.com' })).body;
    const registration = await new SoftAuthenticator().createCredential(start.options);
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration })),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status !== 201).every((r) => r.status === 400 && r.body.code === 'unknown_challenge')).toBe(true);
    expect(await tableCounts(service.deps)).toMatchObject({ users: 1, credentials: 1, sessions: 1, challenges: 0 });
  });

  it('a registration finished with an unknown challenge id -> 400 unknown_challenge', async () => {
    const start = (await service.request('POST', '/v1/challenges', { email: 'carl@example.com' })).body;
    const registration = await new SoftAuthenticator().createCredential(start.options);
    const reply = await service.request('PUT', '/v1/challenges', { challengeId: 'no-such-challenge', registration });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('unknown_challenge');
  });
});

describe('challenges expire', () => {
  it('a sign-in finished after CHALLENGE_TTL_SECONDS -> 401 authentication_failed, and the row is gone', async () => {
    const authenticator = await account();
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await authenticator.getAssertion(options);
    service.clock.advance(121);
    const reply = await service.request('PUT', '/v1/tokens', { challengeId, authentication });
    expect(reply.status).toBe(401);
    expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0 });
  });

  it('a sign-in finished just before expiry succeeds', async () => {
    const authenticator = await account();
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    service.clock.advance(119);
    const reply = await service.request('PUT', '/v1/tokens', { challengeId, authentication: await authenticator.getAssertion(options) });
    expect(reply.status).toBe(200);
  });

  it('a registration finished after CHALLENGE_TTL_SECONDS -> 410 challenge_expired, nothing stored', async () => {
    const start = (await service.request('POST', '/v1/challenges', { email: 'dora@example.com' })).body;
    const registration = await new SoftAuthenticator().createCredential(start.options);
    service.clock.advance(121);
    const reply = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
    expect(reply.status).toBe(410);
    expect(reply.body.code).toBe('challenge_expired');
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0 });
  });

  it('the options carry the same lifetime as a timeout', async () => {
    const { options } = await startSignIn(service);
    expect(options.timeout).toBe(120_000);
  });
});

describe('challenges are bound to their kind', () => {
  it('a registration challenge never finishes a sign-in', async () => {
    const authenticator = await account();
    const registrationStart = (await service.request('POST', '/v1/challenges', { email: 'erin@example.com' })).body;
    const authentication = await authenticator.getAssertion({ challenge: registrationStart.options.challenge, rpId: 'localhost' });
    const reply = await service.request('PUT', '/v1/tokens', { challengeId: registrationStart.challengeId, authentication });
    expect(reply.status).toBe(401);
    expect(await tableCounts(service.deps)).toMatchObject({ users: 1, sessions: 1, challenges: 0 });
  });

  it('a sign-in challenge never finishes a registration', async () => {
    const { challengeId, options } = await startSignIn(service);
    const registration = await new SoftAuthenticator().createCredential({
      challenge: options.challenge,
      rp: { id: 'localhost', name: 'x' },
      user: { id: 'dXNlcg', name: 'mallory@example.com', displayName: 'Mallory' },
      pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
    });
    const reply = await service.request('PUT', '/v1/challenges', { challengeId, registration });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('unknown_challenge');
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0 });
  });
});
