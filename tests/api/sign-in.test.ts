import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { auditTrail, bearer, signIn, signUp, SoftAuthenticator, startService, startSignIn, tableCounts, type TestService } from '../helpers/service.js';
import type { Tamper } from '../helpers/authenticator.js';

let service: TestService;
beforeEach(async () => (service = await startService()));
afterEach(() => service.close());

const finish = (challengeId: string, authentication: unknown) => service.request('PUT', '/v1/tokens', { challengeId, authentication });

function expectAuthenticationFailed(reply: { status: number; body: any }) {
  expect(reply.status).toBe(401);
  expect(reply.body).toEqual({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'Sign-in failed', code: 'authentication_failed' });
}

describe('sign-in by email', () => {
  it('answers with an empty allowCredentials, returns a token, and updates counter, backup state and lastUsedAt', async () => {
    const authenticator = new SoftAuthenticator({ backupEligible: true });
    const account = await signUp(service, authenticator, 'alice@example.com');
    const { challengeId, options } = await startSignIn(service, 'Alice@Example.com');
    expect(options.allowCredentials).toEqual([]);
    expect(options.userVerification).toBe('required');
    // The account is bound at the finish, by the email the challenge keeps.
    expect(await service.deps.db.selectFrom('challenges').select(['email', 'user_id']).execute()).toEqual([{ email: 'alice@example.com', user_id: null }]);

    service.clock.advance(60);
    const reply = await finish(challengeId, await authenticator.getAssertion(options));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.body).toEqual({
      userId: account.userId,
      token: expect.any(String),
      expiresAt: new Date(service.clock.now.getTime() + 3600_000).toISOString(),
    });
    const row = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ counter: 1, last_used_at: service.clock.now.toISOString(), backed_up: 0 });
  });

  it('records a passkey that became backed up since registration', async () => {
    const authenticator = new SoftAuthenticator({ backupEligible: true });
    await signUp(service, authenticator, 'bea@example.com');
    // The same credential, now synced: the authenticator reports BS=1.
    const synced = new SoftAuthenticator({ backupEligible: true, backedUp: true });
    const { challengeId, options } = await startSignIn(service, 'bea@example.com');
    expect((await finish(challengeId, await synced.getAssertion(options, {}, authenticator.credentials[0]))).status).toBe(200);
    const row = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ backed_up: 1, device_type: 'multiDevice' });
  });

  for (const [registered, asserted] of [
    [false, true],
    [true, false],
  ] as const) {
    it(`with backup eligibility ${registered ? 'gone' : 'gained'} since registration -> 401, nothing updated, audited`, async () => {
      const authenticator = new SoftAuthenticator({ backupEligible: registered });
      await signUp(service, authenticator, 'eve@example.com');
      const before = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
      const { sessions } = await tableCounts(service.deps);
      // The same key pair, now claiming the other backup eligibility (and, if eligible, backed up).
      const changed = new SoftAuthenticator({ backupEligible: asserted, backedUp: asserted });
      const { challengeId, options } = await startSignIn(service, 'eve@example.com');
      expectAuthenticationFailed(await finish(challengeId, await changed.getAssertion(options, {}, authenticator.credentials[0])));
      expect(await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow()).toEqual(before);
      expect(await tableCounts(service.deps)).toMatchObject({ sessions });
      // Recorded off the answer's path: the row comes shortly after the 401.
      await vi.waitFor(async () =>
        expect((await auditTrail(service.deps)).at(-1)).toMatchObject({
          type: 'sign_in.failed',
          credential_id: authenticator.credentials[0]!.idHex,
          detail: 'backup_eligibility_changed',
        }),
      );
    });
  }

  it("with another account's passkey -> 401 authentication_failed", async () => {
    const alice = new SoftAuthenticator();
    const mallory = new SoftAuthenticator();
    await signUp(service, alice, 'alice@example.com');
    await signUp(service, mallory, 'mallory@example.com');
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await mallory.getAssertion(options);
    expectAuthenticationFailed(await finish(challengeId, authentication));
  });

  it("with a passkey of the same person's other account -> 401; with the email's own passkey -> 200", async () => {
    // One authenticator, two accounts: the browser offers both passkeys, the person picks.
    const authenticator = new SoftAuthenticator();
    const home = await signUp(service, authenticator, 'pat@example.com');
    await signUp(service, authenticator, 'pat@work.example');
    const [homePasskey, workPasskey] = authenticator.credentials;
    let { challengeId, options } = await startSignIn(service, 'pat@example.com');
    expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options, {}, workPasskey)));
    ({ challengeId, options } = await startSignIn(service, 'pat@example.com'));
    const reply = await finish(challengeId, await authenticator.getAssertion(options, {}, homePasskey));
    expect(reply.status).toBe(200);
    expect(reply.body.userId).toBe(home.userId);
  });
});

describe('usernameless sign-in', () => {
  it('finds the account by credential id and user handle', async () => {
    const authenticator = new SoftAuthenticator();
    const account = await signUp(service, authenticator, 'carol@example.com');
    const { challengeId, options } = await startSignIn(service);
    expect(options.allowCredentials).toEqual([]);
    const reply = await finish(challengeId, await authenticator.getAssertion(options));
    expect(reply.status).toBe(200);
    expect(reply.body.userId).toBe(account.userId);
  });

  it('without a user handle -> 401 authentication_failed', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'dan@example.com');
    const { challengeId, options } = await startSignIn(service);
    expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options, { userHandle: null })));
  });

  it("with another account's user handle -> 401 authentication_failed", async () => {
    const dan = new SoftAuthenticator();
    const eve = new SoftAuthenticator();
    await signUp(service, dan, 'dan@example.com');
    await signUp(service, eve, 'eve@example.com');
    const { challengeId, options } = await startSignIn(service);
    const forged = await eve.getAssertion(options, { userHandle: dan.credentials[0]!.userHandle });
    expectAuthenticationFailed(await finish(challengeId, forged));
  });

  it('with an unknown credential -> 401 authentication_failed', async () => {
    const stranger = new SoftAuthenticator();
    await stranger.createCredential((await service.request('POST', '/v1/challenges', { email: 'x@example.com' })).body.options);
    const { challengeId, options } = await startSignIn(service);
    expectAuthenticationFailed(await finish(challengeId, await stranger.getAssertion(options)));
  });
});

describe('assertion verification', () => {
  const cases: [string, Tamper][] = [
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['a wrong RP ID hash', { rpId: 'evil.example' }],
    ['a flipped signature bit', { flipSignatureBit: true }],
    ['user presence off', { userPresent: false }],
    ['user verification off under required', { userVerified: false }],
    ['the registration type', { type: 'webauthn.create' }],
    ['another challenge signed', { challenge: Buffer.from('another challenge').toString('base64url') }],
  ];
  for (const [what, tamper] of cases) {
    it(`with ${what} -> 401 authentication_failed, counter unchanged, challenge used up`, async () => {
      const authenticator = new SoftAuthenticator();
      await signUp(service, authenticator, 'frank@example.com');
      const { challengeId, options } = await startSignIn(service, 'frank@example.com');
      expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options, tamper)));
      const row = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
      expect(row).toMatchObject({ counter: 0, last_used_at: null });
      expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0, sessions: 1 });
    });
  }

  it('with a counter that went backwards -> 401 authentication_failed (a cloned authenticator?)', async () => {
    const authenticator = new SoftAuthenticator({ counterStart: 10 });
    await signUp(service, authenticator, 'gina@example.com');
    expect((await signIn(service, authenticator, 'gina@example.com')).status).toBe(200); // counter 11
    const { challengeId, options } = await startSignIn(service, 'gina@example.com');
    expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options, { counter: 5 })));
    const row = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
    expect(row.counter).toBe(11);
  });

  it('with a counter that did not increase -> 401 authentication_failed', async () => {
    const authenticator = new SoftAuthenticator({ counterStart: 3 });
    await signUp(service, authenticator, 'hal@example.com');
    const { challengeId, options } = await startSignIn(service, 'hal@example.com');
    expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options, { counter: 3 })));
  });

  it('with an authenticator that keeps no counter (always 0) -> signs in every time', async () => {
    const authenticator = new SoftAuthenticator({ countSignatures: false });
    await signUp(service, authenticator, 'ida@example.com');
    for (let i = 0; i < 3; i++) expect((await signIn(service, authenticator, 'ida@example.com')).status).toBe(200);
  });
});

describe('no user enumeration', () => {
  // The request options without their random challenge: everything else must be equal for every email.
  function withoutChallenge({ challenge, ...rest }: { challenge: string }) {
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return rest;
  }

  it('a known and an unknown email get the same answer (empty allowCredentials) and write one challenge each', async () => {
    await signUp(service, new SoftAuthenticator(), 'known@example.com');
    const before = await tableCounts(service.deps);
    const known = await service.request('POST', '/v1/tokens', { email: 'known@example.com' });
    const afterKnown = await tableCounts(service.deps);
    const unknown = await service.request('POST', '/v1/tokens', { email: 'UNKNOWN@example.com' });
    const afterUnknown = await tableCounts(service.deps);

    expect([unknown.status, known.status]).toEqual([200, 200]);
    expect(Object.keys(unknown.body).sort()).toEqual(Object.keys(known.body).sort());
    expect(withoutChallenge(unknown.body.options)).toEqual(withoutChallenge(known.body.options));
    expect(known.body.options.allowCredentials).toEqual([]);
    expect(afterKnown).toEqual({ ...before, challenges: before.challenges + 1 });
    expect(afterUnknown).toEqual({ ...afterKnown, challenges: afterKnown.challenges + 1 });
    const rows = await service.deps.db.selectFrom('challenges').select(['email', 'user_id', 'kind']).orderBy('created_at').execute();
    expect(rows.map((row) => row.email).sort()).toEqual(['known@example.com', 'unknown@example.com']);
    expect(rows.every((row) => row.user_id === null && row.kind === 'authentication')).toBe(true);
  });

  it('model accounts an attacker shapes (made-up transports, 1,000-byte ids) change nothing any email gets', async () => {
    const real = ['ann@example.com', 'ben@example.com', 'cat@example.com'];
    for (const email of real) await signUp(service, new SoftAuthenticator(), email);
    // The attacker's model accounts: each passkey marked by its transports and a long id.
    const attacker = new SoftAuthenticator({ transports: ['usb', 'zz-marker-0', 'nfc'] });
    for (let i = 0; i < 20; i++) {
      const start = await service.request('POST', '/v1/challenges', { email: `model${i}@attacker.example` });
      const marked = new SoftAuthenticator({ transports: [`zz-marker-${i}`, i % 2 ? 'ble' : 'smart-card'] });
      const registration = await (i === 0 ? attacker : marked).createCredential(start.body.options, { credentialId: randomBytes(1000).toString('base64url') });
      expect((await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration })).status).toBe(201);
    }

    const probes = [...real, ...Array.from({ length: 10 }, (_, i) => `stranger${i}@example.com`), 'model3@attacker.example'];
    const answers = [];
    for (const email of probes) {
      const before = await tableCounts(service.deps);
      const reply = await service.request('POST', '/v1/tokens', { email });
      expect(reply.status).toBe(200);
      expect(await tableCounts(service.deps), email).toEqual({ ...before, challenges: before.challenges + 1 });
      answers.push(reply.body);
    }
    const reference = withoutChallenge(answers[0].options);
    expect(reference).toMatchObject({ allowCredentials: [] });
    for (const [i, answer] of answers.entries()) {
      expect(Object.keys(answer).sort(), probes[i]).toEqual(['challengeId', 'options']);
      expect(withoutChallenge(answer.options), probes[i]).toEqual(reference);
    }

    // The finish: a real account's email and an unknown one fail alike with the attacker's own
    // passkey, each using up its challenge and writing nothing else.
    for (const email of ['ann@example.com', 'stranger0@example.com']) {
      const { challengeId, options } = await startSignIn(service, email);
      const before = await tableCounts(service.deps);
      const events = (await auditTrail(service.deps)).length;
      expectAuthenticationFailed(await finish(challengeId, await attacker.getAssertion(options)));
      expect(await tableCounts(service.deps), email).toEqual({ ...before, challenges: before.challenges - 1 });
      expect((await auditTrail(service.deps)).length, email).toBe(events);
    }
  });

  it("finishing with an unknown email's challenge id -> 401 authentication_failed, whatever passkey signs", async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'real@example.com');
    const { challengeId, options } = await startSignIn(service, 'ghost@example.com');
    expectAuthenticationFailed(await finish(challengeId, await authenticator.getAssertion(options)));
    expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0 });
  });
});

describe('session tokens from sign-in', () => {
  it('are accepted by /v1/me', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'jo@example.com');
    const { body } = await signIn(service, authenticator);
    expect((await service.request('GET', '/v1/me', undefined, bearer(body.token))).status).toBe(200);
  });
});
