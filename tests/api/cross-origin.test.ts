// Ceremonies inside another site's frame: a response with crossOrigin: true is refused by
// both ceremonies unless TOP_ORIGINS names the pages that may frame them, and a topOrigin
// must be one of those pages.
import { afterEach, describe, expect, it } from 'vitest';
import type { Tamper } from '../helpers/authenticator.js';
import { signUp, SoftAuthenticator, startService, startSignIn, tableCounts, type TestService } from '../helpers/service.js';

const SHOP = 'https://shop.example';

let service: TestService;
afterEach(() => service.close());

async function register(email: string, tamper: Tamper) {
  const start = await service.request('POST', '/v1/challenges', { email });
  const registration = await new SoftAuthenticator().createCredential(start.body.options, tamper);
  return service.request('PUT', '/v1/challenges', { challengeId: start.body.challengeId, registration });
}

/** Signs up honestly, then finishes a sign-in whose assertion carries `tamper`. */
async function signInWith(tamper: Tamper) {
  const authenticator = new SoftAuthenticator();
  await signUp(service, authenticator, 'framed@example.com');
  const { challengeId, options } = await startSignIn(service, 'framed@example.com');
  return service.request('PUT', '/v1/tokens', { challengeId, authentication: await authenticator.getAssertion(options, tamper) });
}

async function expectRegistrationRefused(email: string, tamper: Tamper) {
  const finish = await register(email, tamper);
  expect(finish.status).toBe(400);
  expect(finish.body).toMatchObject({ code: 'registration_failed', status: 400 });
  expect(await tableCounts(service.deps)).toMatchObject({ users: 0, credentials: 0, challenges: 0, sessions: 0 });
}

async function expectSignInRefused(tamper: Tamper) {
  const finish = await signInWith(tamper);
  expect(finish.status).toBe(401);
  expect(finish.body.code).toBe('authentication_failed');
  const row = await service.deps.db.selectFrom('credentials').select(['counter', 'last_used_at']).executeTakeFirstOrThrow();
  expect(row).toMatchObject({ counter: 0, last_used_at: null });
  expect(await tableCounts(service.deps)).toMatchObject({ sessions: 1 });
}

describe('without TOP_ORIGINS (the default)', () => {
  const refused: [string, Tamper][] = [
    ['crossOrigin: true and no topOrigin', { crossOrigin: true }],
    ['crossOrigin: true and a topOrigin', { crossOrigin: true, topOrigin: SHOP }],
    ['a topOrigin in a same-origin response', { topOrigin: SHOP }],
  ];

  it.each(refused)('registration with %s -> 400 registration_failed, nothing stored', async (_name, tamper) => {
    service = await startService();
    await expectRegistrationRefused('framed@example.com', tamper);
  });

  it.each(refused)('sign-in with %s -> 401 authentication_failed, nothing updated', async (_name, tamper) => {
    service = await startService();
    await expectSignInRefused(tamper);
  });

  it('a same-origin response (crossOrigin: false) registers and signs in', async () => {
    service = await startService();
    expect((await register('plain@example.com', { crossOrigin: false })).status).toBe(201);
    expect((await signInWith({ crossOrigin: false })).status).toBe(200);
  });
});

describe(`with TOP_ORIGINS=${SHOP},https://blog.example`, () => {
  const env = { TOP_ORIGINS: `${SHOP}, https://blog.example` };

  it.each<[string, Tamper]>([
    ['a listed topOrigin', { crossOrigin: true, topOrigin: 'https://blog.example' }],
    ['no topOrigin (Safari sends none)', { crossOrigin: true }],
  ])('crossOrigin: true with %s: registration 201, sign-in 200', async (_name, tamper) => {
    service = await startService(env);
    expect((await register('framed-up@example.com', tamper)).status).toBe(201);
    expect((await signInWith(tamper)).status).toBe(200);
  });

  const refused: [string, Tamper][] = [
    ['an unlisted topOrigin', { crossOrigin: true, topOrigin: 'https://evil.example' }],
    ["the service's own origin as topOrigin", { crossOrigin: true, topOrigin: 'http://localhost:3000' }],
    ['a listed topOrigin in a same-origin response', { topOrigin: SHOP }],
  ];

  it.each(refused)('registration with %s -> 400 registration_failed, nothing stored', async (_name, tamper) => {
    service = await startService(env);
    await expectRegistrationRefused('framed@example.com', tamper);
  });

  it.each(refused)('sign-in with %s -> 401 authentication_failed, nothing updated', async (_name, tamper) => {
    service = await startService(env);
    await expectSignInRefused(tamper);
  });
});
