// Mutated registration responses (sign-ups and added passkeys) for a live challenge.
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as schemas from '../../../server/http/schemas.js';
import type { AuthenticatorOptions } from '../../helpers/authenticator.js';
import { SoftAuthenticator } from '../../helpers/service.js';
import { anyJson, attestationEdit, memberKey, randomBase64url, responseMutation } from './arbitraries.js';
import { editAttestation, mutateResponse, registrationShape, setAt } from './mutations.js';
import { challengeUsedUp, expectOutcome, rejected, send, type Outcome } from './oracles.js';
import { outcomesFor, registrationVerdict } from './verdicts.js';
import { JSON_TYPE, RUN_TIMEOUT, useWorld } from './world.js';

describe('fuzz: mutated registration responses for a live challenge', () => {
  const world = useWorld();
  let accounts = 0;
  const authenticatorOptions = fc.constantFrom<AuthenticatorOptions>({}, { algorithm: 'Ed25519' }, { backupEligible: true, backedUp: true });

  /**
   * Starts a registration (a sign-up, or a passkey for alice), lets a fresh authenticator
   * answer it, mutates the answer, sends it, and checks the result: invalid shape -> 400 and
   * the challenge is untouched; still passing every check -> 201, the passkey (for a sign-up
   * also the account, its session and its verification code) is written and an email is
   * queued; anything else -> 400 registration_failed and only the challenge is used up.
   */
  async function registerMutated(options: AuthenticatorOptions, addToAlice: boolean, mutate: (body: any) => any): Promise<Outcome | Outcome[]> {
    const w = world();
    accounts += 1;
    const email = `fuzz-${accounts}@example.com`;
    const start = addToAlice
      ? await send(w, { method: 'POST', path: '/v1/challenges', body: '{}', headers: { ...JSON_TYPE, authorization: `Bearer ${w.token}` } })
      : await send(w, { method: 'POST', path: '/v1/challenges', body: JSON.stringify({ email }), headers: JSON_TYPE });
    expect(start.status, start.what).toBe(200);
    const original = { challengeId: start.body.challengeId, registration: await new SoftAuthenticator(options).createCredential(start.body.options) };
    const body = mutate(original);
    const parsed = schemas.FinishRegistration.safeParse(JSON.parse(JSON.stringify(body)));
    let outcome: Outcome | Outcome[];
    if (!parsed.success) outcome = rejected(400, 'invalid_request');
    else if (parsed.data.challengeId !== original.challengeId) outcome = rejected(400, 'unknown_challenge');
    else {
      const verdict = registrationVerdict(w, parsed.data.registration as RegistrationResponseJSON, start.body.options.challenge);
      // A sign-up creates the account, signs it in and emails a verification code; adding a
      // passkey keeps alice's session and tells her email about it.
      const accepted: Outcome = {
        status: 201,
        change: addToAlice
          ? { rows: { credentials: 1, challenges: -1, outbox: 1 } }
          : { rows: { users: 1, credentials: 1, sessions: 1, challenges: -1, outbox: 1 }, codesIssued: [{ purpose: 'verify', email }] },
      };
      const refused = rejected(400, 'registration_failed', challengeUsedUp);
      outcome = outcomesFor(verdict, accepted, refused);
    }
    const headers = addToAlice ? { ...JSON_TYPE, authorization: `Bearer ${w.token}` } : JSON_TYPE;
    await expectOutcome(w, { method: 'PUT', path: '/v1/challenges', body: JSON.stringify(body), headers }, outcome);
    return outcome;
  }

  it('one field replaced, deleted, re-encoded or byte-edited -> 201 only if every check still passes', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(authenticatorOptions, fc.boolean(), responseMutation(registrationShape), async (options, addToAlice, mutation) => {
        await registerMutated(options, addToAlice, (body) => mutateResponse(body, registrationShape, mutation));
      }),
      { numRuns: 550 },
    );
  });

  it('random, truncated and edited CBOR in the attestation object and its authenticator data', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(authenticatorOptions, fc.boolean(), attestationEdit, async (options, addToAlice, edit) => {
        await registerMutated(options, addToAlice, (body) =>
          setAt(body, 'registration.response.attestationObject', editAttestation(body.registration.response.attestationObject, edit)),
        );
      }),
      { numRuns: 550 },
    );
  });

  it('harmless mutations (extension results, attachment, transports, name) are accepted', { timeout: RUN_TIMEOUT }, async () => {
    const harmless = fc.oneof(
      fc.record({ path: fc.constant('registration.clientExtensionResults'), value: fc.dictionary(memberKey, anyJson, { maxKeys: 3 }) }),
      fc.record({ path: fc.constant('registration.authenticatorAttachment'), value: fc.constantFrom('platform', 'cross-platform', undefined) }),
      fc.record({
        path: fc.constant('registration.response.transports'),
        value: fc.subarray(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']),
      }),
      fc.record({ path: fc.constant('registration.response.authenticatorData'), value: fc.option(randomBase64url, { nil: undefined }) }),
      fc.record({ path: fc.constant('name'), value: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0) }),
    );
    await fc.assert(
      fc.asyncProperty(authenticatorOptions, fc.boolean(), harmless, async (options, addToAlice, { path, value }) => {
        const outcome = await registerMutated(options, addToAlice, (body) => setAt(body, path, value));
        expect(outcome, 'classified as harmless').toMatchObject({ status: 201 });
      }),
      { numRuns: 80 },
    );
  });
});
