import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, signIn, signUp, SoftAuthenticator, startService, tableCounts, type TestService } from '../helpers/service.js';

let service: TestService;
beforeEach(async () => (service = await startService()));
afterEach(() => service.close());

const startSignUp = (email: string, extra: object = {}) => service.request('POST', '/v1/challenges', { email, ...extra });

describe('sign-up', () => {
  it('stores the user, a hex credential and a session, and signs the new user in', async () => {
    const authenticator = new SoftAuthenticator({ aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd', backupEligible: true, backedUp: true });
    const result = await signUp(service, authenticator, 'alice@example.com');

    expect(result.credential).toEqual({
      id: authenticator.credentials[0]!.idHex,
      name: 'iCloud Keychain',
      createdAt: service.clock.now.toISOString(),
      lastUsedAt: null,
      deviceType: 'multiDevice',
      backedUp: true,
      transports: ['hybrid', 'internal'],
      aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd',
    });
    const me = await service.request('GET', '/v1/me', undefined, bearer(result.token));
    expect(me.body).toEqual({
      userId: result.userId,
      email: 'alice@example.com',
      emailVerified: false,
      displayName: 'alice@example.com',
      createdAt: service.clock.now.toISOString(),
    });
    const row = await service.deps.db.selectFrom('credentials').selectAll().executeTakeFirstOrThrow();
    expect(row.public_key).toBe(Buffer.from(authenticator.credentials[0]!.publicKey).toString('hex'));
    expect(await tableCounts(service.deps)).toMatchObject({ users: 1, credentials: 1, challenges: 0, sessions: 1 });
  });

  it('works with an Ed25519 authenticator', async () => {
    const result = await signUp(service, new SoftAuthenticator({ algorithm: 'Ed25519' }), 'ed@example.com');
    expect(result.credential.name).toBe('Passkey');
  });

  it('uses a random user handle, never the email, and the given display name and passkey name', async () => {
    const start = await startSignUp('Bob@Example.com', { displayName: 'Bob' });
    const { user } = start.body.options;
    expect(user).toMatchObject({ name: 'bob@example.com', displayName: 'Bob' });
    expect(Buffer.from(user.id, 'base64url')).toHaveLength(32);
    expect(Buffer.from(user.id, 'base64url').toString()).not.toContain('bob');
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration, name: 'Work laptop' });
    expect(finish.body.credential.name).toBe('Work laptop');
    const stored = await service.deps.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ email: 'bob@example.com', display_name: 'Bob', user_handle: user.id });
  });

  it('asks for a discoverable credential and the configured user verification', async () => {
    const { options } = (await startSignUp('carol@example.com')).body;
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.rp).toEqual({ name: 'Passkey service', id: 'localhost' });
    expect(options.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-8, -7, -257]);
  });

  it('for an email that has an account -> 409 account_exists, whatever its case, and nothing stored', async () => {
    await signUp(service, new SoftAuthenticator(), 'alice@example.com');
    const before = await tableCounts(service.deps);
    const again = await startSignUp('  ALICE@example.com ');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('account_exists');
    expect(await tableCounts(service.deps)).toEqual(before);
  });

  it('finished twice for one email (two pending sign-ups) -> the second is 409 account_exists, nothing stored', async () => {
    const first = (await startSignUp('dave@example.com')).body;
    const second = (await startSignUp('dave@example.com')).body;
    const a = await service.request('PUT', '/v1/challenges', {
      challengeId: first.challengeId,
      registration: await new SoftAuthenticator().createCredential(first.options),
    });
    expect(a.status).toBe(201);
    const before = await tableCounts(service.deps);
    const b = await service.request('PUT', '/v1/challenges', {
      challengeId: second.challengeId,
      registration: await new SoftAuthenticator().createCredential(second.options),
    });
    expect(b.status).toBe(409);
    expect(b.body.code).toBe('account_exists');
    expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges - 1 });
  });

  it('with a credential id that is registered already -> 400 registration_failed, nothing stored', async () => {
    const authenticator = new SoftAuthenticator();
    await signUp(service, authenticator, 'erin@example.com');
    const start = (await startSignUp('frank@example.com')).body;
    const registration = await new SoftAuthenticator().createCredential(start.options, { credentialId: authenticator.credentials[0]!.id });
    const before = await tableCounts(service.deps);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
    expect(finish.status).toBe(400);
    expect(finish.body).toMatchObject({ code: 'registration_failed', detail: 'This passkey is registered already' });
    expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges - 1 });
  });

  it('two sign-ups racing with one credential id: the loser gets 400 registration_failed, never account_exists', async () => {
    for (let round = 0; round < 10; round++) {
      const authenticator = new SoftAuthenticator();
      const starts = await Promise.all([`race${round}a@example.com`, `race${round}b@example.com`].map(async (email) => (await startSignUp(email)).body));
      const registrations = await Promise.all(
        starts.map((start, i) =>
          i === 0
            ? authenticator.createCredential(start.options)
            : new SoftAuthenticator().createCredential(start.options, { credentialId: authenticator.credentials[0]!.id }),
        ),
      );
      const finishes = await Promise.all(
        starts.map((start, i) => service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration: registrations[i] })),
      );
      const outcomes = finishes.map(({ status, body }) => (status === 201 ? 201 : `${status} ${body.code}: ${body.detail}`));
      expect(outcomes.sort()).toEqual([201, '400 registration_failed: This passkey is registered already']);
      // The loser's challenge is used up too: it cannot be tried again.
      expect(await tableCounts(service.deps)).toMatchObject({ challenges: 0 });
    }
  });

  it('names people read: NFKC, and no control or bidirectional formatting characters -> 400 invalid_request', async () => {
    for (const displayName of ['x\nAdmin', '\u0007bell', '\u202Eevil']) {
      const start = await service.request('POST', '/v1/challenges', { email: 'uma@example.com', displayName });
      expect(start.status).toBe(400);
      expect(start.body.code).toBe('invalid_request');
    }
    const start = (await startSignUp('uma@example.com', { displayName: 'Ｕｍａ' })).body;
    expect(start.options.user.displayName).toBe('Uma');
    const registration = await new SoftAuthenticator().createCredential(start.options);
    const refused = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration, name: '\u202Egnp.exe' });
    expect(refused.status).toBe(400);
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0 });
  });

  it('keeps only the transports of the WebAuthn registry, each once, and drops made-up ones', async () => {
    const start = (await startSignUp('vera@example.com')).body;
    const madeUp = ['future-transport', 'x'.repeat(32), 'USB', 'cable', 'a'.repeat(200), 'internal\u0000'];
    const registration = await new SoftAuthenticator({ transports: ['usb', ...madeUp, 'smart-card', 'usb', 'ble'] }).createCredential(start.options);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
    expect(finish.status).toBe(201);
    expect(finish.body.credential.transports).toEqual(['ble', 'smart-card', 'usb']);
    const row = await service.deps.db.selectFrom('credentials').select('transports').executeTakeFirstOrThrow();
    expect(JSON.parse(row.transports)).toEqual(['ble', 'smart-card', 'usb']);
  });

  it('with a credential id over 1023 bytes -> 400 registration_failed, nothing stored', async () => {
    const start = (await startSignUp('otto@example.com')).body;
    const registration = await new SoftAuthenticator().createCredential(start.options, { credentialId: Buffer.alloc(1024, 7).toString('base64url') });
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
    expect(finish.status).toBe(400);
    expect(finish.body.code).toBe('registration_failed');
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0 });
  });

  it('whose response id is not the id in the authenticator data -> 400 registration_failed', async () => {
    const start = (await startSignUp('frank@example.com')).body;
    const registration = await new SoftAuthenticator().createCredential(start.options);
    registration.id = registration.rawId = Buffer.from('another id').toString('base64url');
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
    expect(finish.status).toBe(400);
    expect(finish.body.code).toBe('registration_failed');
    expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0 });
  });

  it('without an email and without a token -> 400 invalid_request', async () => {
    const start = await service.request('POST', '/v1/challenges', {});
    expect(start.status).toBe(400);
    expect(start.body.code).toBe('invalid_request');
  });
});

describe('registration verification', () => {
  const cases: [string, object, object?][] = [
    ['a wrong origin', { origin: 'https://evil.example' }],
    ['a wrong RP ID hash', { rpId: 'evil.example' }],
    ['another challenge', { challenge: Buffer.from('not the challenge').toString('base64url') }],
    ['the sign-in type', { type: 'webauthn.get' }],
    ['user presence off', { userPresent: false }],
    ['user verification off under required', { userVerified: false }],
  ];
  for (const [what, tamper] of cases) {
    it(`with ${what} -> 400 registration_failed, nothing stored, challenge used up`, async () => {
      const start = (await startSignUp('grace@example.com')).body;
      const registration = await new SoftAuthenticator().createCredential(start.options, tamper);
      const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
      expect(finish.status).toBe(400);
      expect(finish.body).toMatchObject({ code: 'registration_failed', status: 400 });
      expect(finish.headers.get('content-type')).toContain('application/problem+json');
      expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0, sessions: 0 });
    });
  }

  it('accepts user verification off when USER_VERIFICATION=preferred, and says so in the options', async () => {
    const lenient = await startService({ USER_VERIFICATION: 'preferred' });
    try {
      const start = (await lenient.request('POST', '/v1/challenges', { email: 'uv@example.com' })).body;
      expect(start.options.authenticatorSelection.userVerification).toBe('preferred');
      const authenticator = new SoftAuthenticator({ userVerification: false });
      const registration = await authenticator.createCredential(start.options);
      const finish = await lenient.request('PUT', '/v1/challenges', { challengeId: start.challengeId, registration });
      expect(finish.status).toBe(201);
      const signedIn = await signIn(lenient, authenticator, 'uv@example.com');
      expect(signedIn.status).toBe(200);
    } finally {
      await lenient.close();
    }
  });
});

describe('adding a passkey to the signed-in account', () => {
  it('excludes the existing passkeys, keeps the user handle, and both passkeys sign in', async () => {
    const phone = new SoftAuthenticator();
    const account = await signUp(service, phone, 'heidi@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    expect(start.status).toBe(200);
    expect(start.body.options.excludeCredentials).toEqual([{ id: phone.credentials[0]!.id, type: 'public-key', transports: ['hybrid', 'internal'] }]);
    expect(start.body.options.user.id).toBe(phone.credentials[0]!.userHandle);

    const laptop = new SoftAuthenticator({ algorithm: 'Ed25519' });
    const registration = await laptop.createCredential(start.body.options);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(account.token));
    expect(finish.status).toBe(201);
    expect(finish.body).toMatchObject({ userId: account.userId, token: account.token, expiresAt: account.expiresAt });
    expect((await signIn(service, laptop, 'heidi@example.com')).body.userId).toBe(account.userId);
    expect((await signIn(service, phone)).body.userId).toBe(account.userId);
    expect(await tableCounts(service.deps)).toMatchObject({ users: 1, credentials: 2 });
  });

  it('finished without a token -> 401 unauthorized: the challenge id alone adds no passkey and opens no session', async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'lena@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    const before = await tableCounts(service.deps);
    const finish = await service.request('PUT', '/v1/challenges', {
      challengeId: start.body.challengeId,
      registration: await new SoftAuthenticator().createCredential(start.body.options),
    });
    expect(finish.status).toBe(401);
    expect(finish.body.code).toBe('unauthorized');
    expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges - 1 });
  });

  it('finished with the token that started it -> 201 with that same token, and no new session', async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'lara@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(account.token));
    expect(finish.status).toBe(201);
    expect(finish.body).toMatchObject({ userId: account.userId, token: account.token, expiresAt: account.expiresAt });
    expect(await tableCounts(service.deps)).toMatchObject({ credentials: 2, sessions: 1 });
  });

  it('finished with another live token of the same account -> 401 unauthorized, nothing stored', async () => {
    const phone = new SoftAuthenticator();
    const account = await signUp(service, phone, 'lisa@example.com');
    const other = (await signIn(service, phone)).body.token as string;
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    const before = await tableCounts(service.deps);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(other));
    expect(finish.status).toBe(401);
    expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges - 1 });
  });

  it("finished with another account's or a bad token -> 401 unauthorized, nothing stored", async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'mia@example.com');
    const other = await signUp(service, new SoftAuthenticator(), 'mike@example.com');
    for (const headers of [bearer(other.token), bearer('not-a-valid-token')]) {
      const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
      const registration = await new SoftAuthenticator().createCredential(start.body.options);
      const before = await tableCounts(service.deps);
      const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, headers);
      expect(finish.status).toBe(401);
      expect(finish.body.code).toBe('unauthorized');
      expect(await tableCounts(service.deps)).toEqual({ ...before, challenges: before.challenges - 1 });
    }
  });

  it('signed out between start and finish -> 401 unauthorized, no passkey added', async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'nina@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    expect((await service.request('DELETE', '/v1/sessions/current', undefined, bearer(account.token))).status).toBe(204);
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(account.token));
    expect(finish.status).toBe(401);
    expect(await tableCounts(service.deps)).toMatchObject({ credentials: 1 });
  });

  it('signed out while its finish runs, just before the finish writes -> 401 unauthorized, no passkey added', async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'olga@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    const registration = await new SoftAuthenticator().createCredential(start.body.options);
    // The finish has checked the passkey and made its answer; its next step is the
    // transaction that stores the passkey. The sign-out commits first.
    const { db } = service.deps;
    const transaction = db.transaction.bind(db);
    db.transaction = (() => {
      db.transaction = transaction;
      return {
        execute: async (work: Parameters<ReturnType<typeof transaction>['execute']>[0]) => {
          expect((await service.request('DELETE', '/v1/sessions/current', undefined, bearer(account.token))).status).toBe(204);
          return transaction().execute(work);
        },
      };
    }) as unknown as typeof db.transaction;
    const finish = await service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration }, bearer(account.token));
    expect(db.transaction).toBe(transaction); // the finish did reach its transaction
    expect(finish.status).toBe(401);
    expect(finish.body.code).toBe('unauthorized');
    expect(await tableCounts(service.deps)).toMatchObject({ credentials: 1 });
  });

  it('on an authenticator that holds one of them -> the authenticator refuses (excludeCredentials)', async () => {
    const phone = new SoftAuthenticator();
    const account = await signUp(service, phone, 'ivan@example.com');
    const start = await service.request('POST', '/v1/challenges', {}, bearer(account.token));
    await expect(phone.createCredential(start.body.options)).rejects.toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
  });

  it("with an email that is not the account's -> 400 invalid_request", async () => {
    const account = await signUp(service, new SoftAuthenticator(), 'judy@example.com');
    const start = await service.request('POST', '/v1/challenges', { email: 'mallory@example.com' }, bearer(account.token));
    expect(start.status).toBe(400);
  });

  it('with a bad token -> 401 unauthorized: nobody attaches a passkey to an account they do not hold', async () => {
    await signUp(service, new SoftAuthenticator(), 'ken@example.com');
    const start = await service.request('POST', '/v1/challenges', { email: 'ken@example.com' }, bearer('not.a.token'));
    expect(start.status).toBe(401);
    expect(start.body.code).toBe('unauthorized');
  });
});
