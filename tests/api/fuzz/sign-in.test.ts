// Mutated sign-in assertions (by email and usernameless) for a live challenge.
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as schemas from '../../../server/http/schemas.js';
import { signUp, SoftAuthenticator } from '../../helpers/service.js';
import { anyJson, memberKey, responseMutation } from './arbitraries.js';
import { b64 } from './bytes.js';
import { authenticationShape, mutateResponse, setAt } from './mutations.js';
import { challengeUsedUp, expectOutcome, rejected, send, type Outcome } from './oracles.js';
import { assertionVerdict, outcomesFor } from './verdicts.js';
import { ALICE, BOB, JSON_TYPE, joinCast, RUN_TIMEOUT, useWorld } from './world.js';

describe('fuzz: mutated sign-in responses for a live challenge', () => {
  const world = useWorld();
  const bob = new SoftAuthenticator({ algorithm: 'Ed25519', backupEligible: true, backedUp: true });
  beforeAll(async () => {
    const { userId } = await signUp(world().service, bob, BOB);
    await joinCast(world(), userId);
  });

  /**
   * Starts a sign-in (by email or usernameless) for alice (ES256) or bob (Ed25519), lets the
   * authenticator sign it, mutates the assertion, sends it, and checks the result: invalid
   * shape -> 400, challenge untouched; still the signed assertion -> 200, a session, and the
   * credential's counter and lastUsedAt move; anything else -> 401 and only the challenge is used up.
   */
  async function signInMutated(who: 'alice' | 'bob', byEmail: boolean, mutate: (body: any) => any): Promise<Outcome | Outcome[]> {
    const w = world();
    const [authenticator, email] = who === 'alice' ? [w.alice, ALICE] : [bob, BOB];
    w.service.clock.advance(1); // so that lastUsedAt moves on every accepted sign-in
    const start = await send(w, { method: 'POST', path: '/v1/tokens', body: JSON.stringify(byEmail ? { email } : {}), headers: JSON_TYPE });
    expect(start.status, start.what).toBe(200);
    const original = { challengeId: start.body.challengeId as string, authentication: await authenticator.getAssertion(start.body.options) };
    const body = mutate(original);
    const parsed = schemas.FinishSignIn.safeParse(JSON.parse(JSON.stringify(body)));
    const credential = authenticator.credentials[0]!;
    let outcome: Outcome | Outcome[];
    if (!parsed.success) outcome = rejected(400, 'invalid_request');
    else if (parsed.data.challengeId !== original.challengeId) outcome = rejected(401, 'authentication_failed');
    else {
      const sent = parsed.data.authentication as AuthenticationResponseJSON;
      const verdict = await assertionVerdict(original.authentication, sent, byEmail, credential);
      const counter = Buffer.from(original.authentication.response.authenticatorData, 'base64url').readUInt32BE(33);
      const lastUsedAt = w.service.clock.now.toISOString();
      const accepted: Outcome = {
        status: 200,
        change: { rows: { sessions: 1, challenges: -1 }, credential: { id: credential.idHex, counter, lastUsedAt } },
      };
      const refused = rejected(401, 'authentication_failed', challengeUsedUp);
      outcome = outcomesFor(verdict, accepted, refused);
    }
    await expectOutcome(w, { method: 'PUT', path: '/v1/tokens', body: JSON.stringify(body), headers: JSON_TYPE }, outcome);
    return outcome;
  }

  it('harmless mutations (extension results, attachment, unknown members, userHandle left out by email) are accepted', { timeout: RUN_TIMEOUT }, async () => {
    const unknownMember = memberKey.filter((key) => !['clientDataJSON', 'authenticatorData', 'signature', 'userHandle'].includes(key));
    const harmless = fc.oneof(
      fc.record({
        byEmail: fc.boolean(),
        path: fc.constant('authentication.clientExtensionResults'),
        value: fc.dictionary(memberKey, anyJson, { maxKeys: 3 }),
      }),
      fc.record({
        byEmail: fc.boolean(),
        path: fc.constant('authentication.authenticatorAttachment'),
        value: fc.constantFrom('platform', 'cross-platform', undefined),
      }),
      fc.record({ byEmail: fc.boolean(), path: unknownMember.map((key) => `authentication.response.${key}`), value: anyJson }),
      fc.record({ byEmail: fc.constant(true), path: fc.constant('authentication.response.userHandle'), value: fc.constantFrom(undefined, '') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('alice' as const, 'bob' as const), harmless, async (who, { byEmail, path, value }) => {
        const outcome = await signInMutated(who, byEmail, (body) => setAt(body, path, value));
        expect(outcome, 'classified as harmless').toMatchObject({ status: 200 });
      }),
      { numRuns: 80 },
    );
  });

  it('one field replaced, deleted, re-encoded or byte-edited -> 200 only if nothing signed or checked changed', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('alice' as const, 'bob' as const),
        fc.boolean(),
        responseMutation(authenticationShape),
        async (who, byEmail, mutation) => {
          await signInMutated(who, byEmail, (body) => mutateResponse(body, authenticationShape, mutation));
        },
      ),
      { numRuns: 700 },
    );
  });

  it('random and truncated authenticator data -> 401', { timeout: RUN_TIMEOUT }, async () => {
    const authenticatorData = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc.uint8Array({ minLength: 37, maxLength: 37 }),
      fc.nat().map((n) => ({ keep: n % 37 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('alice' as const, 'bob' as const), fc.boolean(), authenticatorData, async (who, byEmail, data) => {
        await signInMutated(who, byEmail, (body) => {
          const real = isoBase64URL.toBuffer(body.authentication.response.authenticatorData);
          const bytes = data instanceof Uint8Array ? data : real.subarray(0, data.keep);
          return setAt(body, 'authentication.response.authenticatorData', b64(bytes));
        });
      }),
      { numRuns: 150 },
    );
  });
});
