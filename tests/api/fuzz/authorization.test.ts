// Random Authorization headers and X-API-Keys, carrying mangled, forged and random tokens.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKey, signIn } from '../../helpers/service.js';
import { anyJson, anyString, headerText, tokenEdit } from './arbitraries.js';
import { bodyEndpoints, outcomeForBody } from './endpoints.js';
import { editToken, type TokenEdit } from './mutations.js';
import { expectOutcome, isSameToken, rejected, startsChallenge, type Outcome } from './oracles.js';
import { ADMIN_KEY, ALICE, JSON_TYPE, RUN_TIMEOUT, useWorld, wrongCode, type World } from './world.js';

describe('fuzz: Authorization headers and tokens', () => {
  const world = useWorld();

  interface SessionEndpoint {
    method: string;
    path(world: World): string;
    body?(world: World): string;
    accepted(world: World): Outcome; // with alice's live token
    anonymous?: Outcome; // without an Authorization header, if not 401
  }
  const sessionEndpoints: SessionEndpoint[] = [
    { method: 'GET', path: () => '/v1/me', accepted: () => ({ status: 200, check: (r) => expect(r.body.email).toBe(ALICE) }) },
    { method: 'GET', path: () => '/v1/credentials', accepted: () => ({ status: 200 }) },
    { method: 'GET', path: () => '/v1/events', accepted: () => ({ status: 200 }) },
    {
      method: 'PATCH',
      path: (w) => `/v1/credentials/${w.credentialId}`,
      body: () => JSON.stringify({ name: 'Renamed by fuzz' }),
      accepted: (w) => ({ status: 200, change: { credential: { id: w.credentialId, name: 'Renamed by fuzz' } } }),
    },
    { method: 'DELETE', path: (w) => `/v1/credentials/${w.credentialId}`, accepted: () => rejected(409, 'last_credential') },
    { method: 'DELETE', path: () => `/v1/credentials/${'ab'.repeat(32)}`, accepted: () => rejected(404, 'not_found') },
    { method: 'DELETE', path: () => '/v1/sessions/current', accepted: () => ({ status: 204, change: { revoked: 1 } }) },
    {
      method: 'POST',
      path: () => '/v1/challenges',
      body: () => '{}',
      accepted: () => ({ status: 200, change: startsChallenge }),
      anonymous: rejected(400, 'invalid_request'), // no token: a sign-up, which needs an email
    },
    // Alice's email is not proven: a new code (and its email), or a wrong code that spends one try of hers.
    {
      method: 'POST',
      path: () => '/v1/email-verification', // no body: as a client asks for a new code
      accepted: () => ({ status: 202, change: { rows: { outbox: 1 }, codesIssued: [{ purpose: 'verify', email: ALICE }] } }),
    },
    {
      method: 'PUT',
      path: () => '/v1/email-verification',
      body: (w) => JSON.stringify({ code: wrongCode(w.pending.verification.code) }),
      accepted: (w) => rejected(400, 'invalid_code', { codeTried: w.pending.verification.id }),
    },
  ];

  // RFC 6750: "Bearer" (any case), a space, a b64token. fetch and Node strip outer whitespace.
  const httpTrim = (value: string) => value.replace(/^[\t ]+|[\t ]+$/g, '');
  const bearerTokenOf = (header: string) => /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(httpTrim(header).trim())?.[1];

  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constant({ scheme: 'Bearer ', edit: { kind: 'same' } as TokenEdit }),
    fc.record({
      scheme: fc.oneof(fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', ' Bearer ', 'Bearer', 'Bearer\t', 'Basic ', 'Token ', 'Bearer: ', ''), headerText),
      edit: tokenEdit,
    }),
    headerText,
  );

  it('random Authorization on every signed-in endpoint -> 401 unless it carries the live token', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sessionEndpoints), authorization, async (endpoint, auth) => {
        const w = world();
        const header = auth === undefined || typeof auth === 'string' ? auth : auth.scheme + editToken(w, w.token, auth.edit);
        const headers: Record<string, string> = endpoint.body === undefined ? {} : { ...JSON_TYPE };
        if (header !== undefined) headers.authorization = header;
        const token = header === undefined ? undefined : bearerTokenOf(header);
        const outcome =
          token !== undefined && isSameToken(w.token, token)
            ? endpoint.accepted(w)
            : header === undefined && endpoint.anonymous
              ? endpoint.anonymous
              : rejected(401, 'unauthorized');
        const request = { method: endpoint.method, path: endpoint.path(w), body: endpoint.body?.(w), headers };
        const reply = await expectOutcome(w, request, outcome);
        if (endpoint.path(w) === '/v1/sessions/current' && reply.status === 204) {
          // That was the live token: sign in again for the runs that follow.
          const again = await signIn(w.service, w.alice, ALICE);
          expect(again.status, 'signing in again').toBe(200);
          w.token = again.body.token;
        }
      }),
      { numRuns: 800 },
    );
  });

  it('introspection with random X-API-Key and tokens -> 401 without a key, else active only for the live token', { timeout: RUN_TIMEOUT }, async () => {
    // An introspection key or an admin key (which may introspect too).
    const key = fc.oneof(
      fc.constantFrom(apiKey, ` ${apiKey}\t`, undefined, '', apiKey.toUpperCase(), `${apiKey}x`, apiKey.slice(0, -1), `${apiKey},${apiKey}`),
      fc.constantFrom(ADMIN_KEY, ` ${ADMIN_KEY}`, ADMIN_KEY.slice(0, -1), `${apiKey}${ADMIN_KEY}`),
      headerText,
    );
    const body = fc.oneof(
      { weight: 4, arbitrary: tokenEdit.map((edit) => ({ edit })) },
      fc.record({ token: fc.oneof(anyString(40), fc.string({ minLength: 8_190, maxLength: 8_194, unit: fc.constantFrom('a', '.') })) }),
      anyJson.map((value) => ({ value })),
    );
    await fc.assert(
      fc.asyncProperty(key, body, async (key, body) => {
        const w = world();
        const value = 'edit' in body ? { token: editToken(w, w.token, body.edit) } : 'token' in body ? { token: body.token } : body.value;
        const text = JSON.stringify(value);
        const headers: Record<string, string> = { ...JSON_TYPE };
        if (key !== undefined) headers['x-api-key'] = key;
        const keyAccepted = key !== undefined && [apiKey, ADMIN_KEY].includes(httpTrim(key));
        const outcome = outcomeForBody(w, bodyEndpoints.introspect!, text, keyAccepted ? undefined : rejected(401, 'unauthorized'));
        await expectOutcome(w, { method: 'POST', path: '/v1/tokens/introspect', body: text, headers }, outcome);
      }),
      { numRuns: 800 },
    );
  });
});
