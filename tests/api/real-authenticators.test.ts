// Responses recorded from real devices (tests/fixtures/real-authenticators/,
// taken from SimpleWebAuthn's own test suite) finished through the real HTTP API.
// The challenge rows are seeded directly, since the recorded challenges are fixed.
// Date is frozen for every case: attestation certificates expire, so each one is
// verified at a known instant (the fixture's fixedClockNeeded, else the service's
// clock), which keeps these tests from rotting when a certificate runs out.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChallengesTable } from '../../server/db/schema.js';
import { startService, tableCounts, type TestService } from '../helpers/service.js';

const folder = new URL('../fixtures/real-authenticators/', import.meta.url);
const load = <T>(file: string): T => JSON.parse(readFileSync(new URL(file, folder), 'utf8')) as T;

interface ExpectedCredential {
  id: string;
  idHex: string;
  publicKeyBase64url: string;
  publicKeyHex: string;
  counter: number;
}

interface RegistrationFixture {
  name: string;
  expectedChallenge: string;
  expectedOrigin: string;
  expectedRPID: string;
  verifyOptions: { requireUserVerification?: boolean };
  response: RegistrationResponseJSON;
  expected: {
    fmt: string;
    aaguid: string;
    credentialDeviceType: 'singleDevice' | 'multiDevice';
    credentialBackedUp: boolean;
    credential: ExpectedCredential;
  };
  verificationStatus: { fixedClockNeeded: string | null };
}

interface AuthenticationCase {
  description: string;
  expectedChallenge: string;
  expectedOrigin: string;
  expectedRPID: string;
  credential: ExpectedCredential;
  response: AuthenticationResponseJSON;
  expected: { newCounter: number };
}

const registrations = readdirSync(folder)
  .filter((file) => file.startsWith('reg-') && file.endsWith('.json'))
  .sort()
  .map((file) => load<RegistrationFixture>(file));
const assertions = load<{ cases: AuthenticationCase[] }>('auth-security-key-es256.json').cases;

const serviceClock = '2026-03-01T12:00:00.000Z'; // what startService's clock starts at

let service: TestService | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await service?.close();
  service = undefined;
});

/** A service configured like the fixture's relying party, with Date (only) frozen at `at`. */
async function serviceFor(
  fixture: { expectedRPID: string; expectedOrigin: string },
  userVerification: 'required' | 'preferred',
  at: string = serviceClock,
): Promise<TestService> {
  vi.useFakeTimers({ toFake: ['Date'] }); // only Date, so sockets and timers keep working
  vi.setSystemTime(new Date(at));
  service = await startService({}, { rpId: fixture.expectedRPID, origins: [fixture.expectedOrigin], userVerification });
  service.clock.now = new Date(at);
  return service;
}

const policyOf = (fixture: RegistrationFixture): 'required' | 'preferred' =>
  fixture.verifyOptions.requireUserVerification === false ? 'preferred' : 'required';

async function seedChallenge(svc: TestService, fields: Pick<ChallengesTable, 'kind' | 'challenge'> & Partial<ChallengesTable>): Promise<string> {
  const id = randomUUID();
  const now = svc.clock.now.getTime();
  await svc.deps.db
    .insertInto('challenges')
    .values({
      id,
      user_id: null,
      email: null,
      display_name: null,
      user_handle: null,
      ...fields,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + 300_000).toISOString(),
    })
    .execute();
  return id;
}

const seedSignUpChallenge = (svc: TestService, challenge: string) =>
  seedChallenge(svc, {
    kind: 'registration',
    challenge,
    email: 'recorded@example.com',
    user_handle: isoBase64URL.fromBuffer(randomBytes(32)),
  });

// A browser names the credential by the id the authenticator attested. One upstream
// fixture (packed x5c) replaced id/rawId by "aaa"; neither is signed, so putting the
// attested id back gives exactly what the device's browser sent.
const asBrowserSent = (fixture: RegistrationFixture): RegistrationResponseJSON => ({
  ...fixture.response,
  id: fixture.expected.credential.id,
  rawId: fixture.expected.credential.id,
});

async function finishRecordedRegistration(fixture: RegistrationFixture, { userVerification = policyOf(fixture), registration = asBrowserSent(fixture) } = {}) {
  const svc = await serviceFor(fixture, userVerification, fixture.verificationStatus.fixedClockNeeded ?? serviceClock);
  const challengeId = await seedSignUpChallenge(svc, fixture.expectedChallenge);
  const reply = await svc.request('PUT', '/v1/challenges', { challengeId, registration });
  return { svc, reply };
}

const storedCredentials = (svc: TestService) => svc.deps.db.selectFrom('credentials').selectAll().execute();

it('the recorded fixtures are all there', () => {
  expect(registrations.map((f) => f.name)).toHaveLength(6);
  expect(assertions).toHaveLength(2);
});

describe.each(registrations.map((fixture) => [fixture.name, fixture.expected.fmt, fixture] as const))(
  'recorded registration %s (fmt %s)',
  (_name, _fmt, fixture) => {
    const expected = fixture.expected.credential;

    it('finishing it stores its id and public key hex-encoded, with its counter, aaguid and backup state', async () => {
      const { svc, reply } = await finishRecordedRegistration(fixture);

      expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      expect(await storedCredentials(svc)).toEqual([
        expect.objectContaining({
          id: expected.idHex,
          public_key: expected.publicKeyHex,
          counter: expected.counter,
          aaguid: fixture.expected.aaguid,
          device_type: fixture.expected.credentialDeviceType,
          backed_up: fixture.expected.credentialBackedUp ? 1 : 0,
        }),
      ]);
      expect(await tableCounts(svc.deps)).toMatchObject({ users: 1, credentials: 1, sessions: 1, challenges: 0 });
    });

    it('finishing it answers with the same hex credential id that is stored', async () => {
      const { reply } = await finishRecordedRegistration(fixture);

      expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      expect(reply.body.credential.id).toBe(expected.idHex);
    });

    it('its stored hex decodes back to the recorded base64url id and public key', async () => {
      const { svc, reply } = await finishRecordedRegistration(fixture);

      expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      const [row] = await storedCredentials(svc);
      expect(isoBase64URL.fromBuffer(isoUint8Array.fromHex(row!.id))).toBe(expected.id);
      expect(isoBase64URL.fromBuffer(isoUint8Array.fromHex(row!.public_key))).toBe(expected.publicKeyBase64url);
    });
  },
);

it('finishing a recorded YubiKey fido-u2f registration (no user verification) when user verification is required -> 400 registration_failed, nothing stored', async () => {
  const yubikey = registrations.find((f) => f.name === 'reg-yubikey-fido-u2f')!;
  const { svc, reply } = await finishRecordedRegistration(yubikey, { userVerification: 'required' });

  expect(reply.status).toBe(400);
  expect(reply.body.code).toBe('registration_failed');
  // The challenge is used up; no account, passkey or session was written.
  expect(await tableCounts(svc.deps)).toMatchObject({ users: 0, credentials: 0, sessions: 0, challenges: 0 });
});

it('finishing the recorded YubiKey packed registration with its upstream id "aaa", not the attested id -> 400 registration_failed, nothing stored', async () => {
  const yubikey = registrations.find((f) => f.name === 'reg-yubikey-packed-x5c')!;
  expect(yubikey.response.id).not.toBe(yubikey.expected.credential.id);
  const { svc, reply } = await finishRecordedRegistration(yubikey, { registration: yubikey.response });

  expect(reply.status).toBe(400);
  expect(reply.body.code).toBe('registration_failed');
  expect(await tableCounts(svc.deps)).toMatchObject({ users: 0, credentials: 0, sessions: 0, challenges: 0 });
});

/** A user holding the recorded credential, and a sign-in challenge for that user. */
async function seedSignIn(svc: TestService, recorded: AuthenticationCase) {
  const userId = randomUUID();
  const createdAt = svc.clock.now.toISOString();
  await svc.deps.db
    .insertInto('users')
    .values({
      id: userId,
      email: 'key-holder@example.com',
      display_name: 'Key holder',
      user_handle: isoBase64URL.fromBuffer(randomBytes(32)),
      created_at: createdAt,
    })
    .execute();
  await svc.deps.db
    .insertInto('credentials')
    .values({
      id: recorded.credential.idHex,
      user_id: userId,
      public_key: recorded.credential.publicKeyHex,
      counter: recorded.credential.counter,
      device_type: 'singleDevice',
      backed_up: 0,
      transports: '["usb"]',
      aaguid: '00000000-0000-0000-0000-000000000000',
      name: 'Security key',
      created_at: createdAt,
      last_used_at: null,
    })
    .execute();
  return { userId, seedChallenge: () => seedChallenge(svc, { kind: 'authentication', challenge: recorded.expectedChallenge, user_id: userId }) };
}

const finishSignIn = (svc: TestService, challengeId: string, recorded: AuthenticationCase) =>
  svc.request('PUT', '/v1/tokens', { challengeId, authentication: recorded.response });

const storedCredential = (svc: TestService, id: string) => svc.deps.db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe.each(assertions.map((recorded) => [recorded.description, recorded] as const))('recorded security-key assertion, %s', (_description, recorded) => {
  it('finishing it signs in and stores the new counter and lastUsedAt', async () => {
    const svc = await serviceFor(recorded, 'preferred');
    const { userId, seedChallenge: seed } = await seedSignIn(svc, recorded);

    const reply = await finishSignIn(svc, await seed(), recorded);

    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body.userId).toBe(userId);
    expect(await storedCredential(svc, recorded.credential.idHex)).toMatchObject({
      counter: recorded.expected.newCounter,
      last_used_at: svc.clock.now.toISOString(),
    });
    expect(await tableCounts(svc.deps)).toMatchObject({ sessions: 1, challenges: 0 });
  });
});

it('finishing the recorded 143 -> 144 assertion again once the stored counter is 144 -> 401 authentication_failed', async () => {
  const recorded = assertions.find((c) => c.credential.counter === 143)!;
  const svc = await serviceFor(recorded, 'preferred');
  const { seedChallenge: seed } = await seedSignIn(svc, recorded);
  expect((await finishSignIn(svc, await seed(), recorded)).status).toBe(200);
  const afterFirst = await storedCredential(svc, recorded.credential.idHex);
  svc.clock.advance(60);

  const replay = await finishSignIn(svc, await seed(), recorded);

  expect(replay.status).toBe(401);
  expect(replay.body.code).toBe('authentication_failed');
  // Nothing moved: same counter and lastUsedAt, no second session, the challenge used up.
  expect(await storedCredential(svc, recorded.credential.idHex)).toEqual(afterFirst);
  expect(afterFirst.counter).toBe(144);
  expect(await tableCounts(svc.deps)).toMatchObject({ sessions: 1, challenges: 0 });
});
