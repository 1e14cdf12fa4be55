import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  auditTrail,
  bearer,
  signIn,
  signUp,
  SoftAuthenticator,
  startService,
  startSignIn,
  tableCounts,
  type TestService,
} from '../helpers/service.js';
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
  it('lists the account\'s passkeys, returns a token, and updates counter, backup state and lastUsedAt', async () => {
    const authenticator = new SoftAuthenticator({ backupEligible: true });
    const account = await signUp(service, authenticator, 'alice@example.com');
    const { challengeId, options } = await startSignIn(service, 'Alice@Example.com');
    expect(options.allowCredentials).toEqual([{ id: authenticator.credentials[0]!.id, type: 'public-key', transports: ['hybrid', 'internal'] }]);
    expect(options.userVerification).toBe('required');

    service.clock.advance(60);
    const reply = await finish(challengeId, await authenticator.getAssertion(options));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.body).toEqual({ userId: account.userId, token: expect.any(String), expiresAt: new Date(service.clock.now.getTime() + 3600_000).toISOString() });
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
      expect((await auditTrail(service.deps)).at(-1)).toMatchObject({
        type: 'sign_in.failed',
        credential_id: authenticator.credentials[0]!.idHex,
        detail: expect.stringContaining('backup eligibility changed'),
      });
    });
  }

  it('with another account\'s passkey -> 401 authentication_failed', async () => {
    const alice = new SoftAuthenticator();
    const mallory = new SoftAuthenticator();
    await signUp(service, alice, 'alice@example.com');
    await signUp(service, mallory, 'mallory@example.com');
    const { challengeId, options } = await startSignIn(service, 'alice@example.com');
    const authentication = await mallory.getAssertion({ ...options, allowCredentials: [] });
    expectAuthenticationFailed(await finish(challengeId, authentication));
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

  it('with another account\'s user handle -> 401 authentication_failed', async () => {
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
  it('an unknown email gets the same status and shape as a known one, stable across calls, and no row', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'known@example.com');
    const before = await tableCounts(service.deps);
    const known = await service.request('POST', '/v1/tokens', { email: 'known@example.com' });
    const unknown = await service.request('POST', '/v1/tokens', { email: 'unknown@example.com' });
    const unknownAgain = await service.request('POST', '/v1/tokens', { email: 'UNKNOWN@example.com' });

    expect(unknown.status).toBe(known.status);
    // Keys and types, recursively; arrays by their first element (people have any number of passkeys).
    const shape = (value: unknown): unknown =>
      Array.isArray(value) ? [shape(value[0])] : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shape(inner)]))
        : typeof value;
    expect(shape(unknown.body)).toEqual(shape(known.body));
    expect(Buffer.from(unknown.body.options.allowCredentials[0].id, 'base64url')).toHaveLength(32);
    expect(unknownAgain.body.options.allowCredentials).toEqual(unknown.body.options.allowCredentials);
    expect(unknownAgain.body.challengeId).not.toBe(unknown.body.challengeId);
    expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges + 1 });
  });

  it('an unknown email gets as many stand-ins as an account has passkeys, with their transports and id lengths', async () => {
    // The only account, so the one every unknown email copies: three passkeys of three kinds.
    const { token } = await signUp(service, new SoftAuthenticator({ transports: ['hybrid', 'internal'] }), 'only@example.com');
    for (const [transports, length] of [[['usb'], 64], [['nfc', 'usb'], 16]] as const) {
      const start = await service.request('POST', '/v1/challenges', {}, bearer(token));
      const registration = await new SoftAuthenticator({ transports: [...transports] }).createCredential(start.body.options, {
        credentialId: randomBytes(length).toString('base64url'),
      });
      const finished = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(token));
      expect(finished.status).toBe(201);
    }
    const known: { id: string; transports: string[] }[] = (await startSignIn(service, 'only@example.com')).options.allowCredentials;
    const unknown: typeof known = (await startSignIn(service, 'nobody@example.com')).options.allowCredentials;
    const kinds = (list: typeof known) => list.map(({ id, transports }) => [Buffer.from(id, 'base64url').length, transports]).sort();
    expect(kinds(known)).toEqual([[16, ['nfc', 'usb']], [32, ['hybrid', 'internal']], [64, ['usb']]]);
    expect(kinds(unknown)).toEqual(kinds(known));
    expect(unknown.filter(({ id }) => known.some((real) => real.id === id))).toEqual([]);
    expect((await startSignIn(service, 'nobody@example.com')).options.allowCredentials).toEqual(unknown);
  });

  it('stand-in credentials differ between emails and between servers', async () => {
    await signUp(service, new SoftAuthenticator(), 'someone@example.com');
    const a = await service.request('POST', '/v1/tokens', { email: 'nobody@example.com' });
    const b = await service.request('POST', '/v1/tokens', { email: 'nobody2@example.com' });
    const other = await startService();
    try {
      await signUp(other, new SoftAuthenticator(), 'someone@example.com');
      const c = await other.request('POST', '/v1/tokens', { email: 'nobody@example.com' });
      expect(b.body.options.allowCredentials[0].id).not.toBe(a.body.options.allowCredentials[0].id);
      expect(c.body.options.allowCredentials[0].id).not.toBe(a.body.options.allowCredentials[0].id);
    } finally {
      await other.close();
    }
  });

  it('finishing with an unknown email\'s challenge id -> 401 authentication_failed', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'real@example.com');
    const { challengeId, options } = await startSignIn(service, 'ghost@example.com');
    const authentication = await authenticator.getAssertion({ ...options, allowCredentials: [] });
    expectAuthenticationFailed(await finish(challengeId, authentication));
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
