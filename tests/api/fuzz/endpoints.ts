// The endpoints that take a JSON body, with what a schema-valid body gets there, and what
// any body text gets, in the order the service reads it.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { expect } from 'vitest';
import { z } from 'zod';
import * as schemas from '../../../server/http/schemas.js';
import { apiKey } from '../../helpers/service.js';
import { createUserOutcome, enrolOutcome, startRegistrationOutcome, updateUserOutcome } from './admin-model.js';
import { isSameToken, rejected, startsChallenge, type Change, type Outcome, type Request } from './oracles.js';
import { ADMIN, ALICE, BODY_LIMIT, JSON_TYPE, wrongCode, type World } from './world.js';

const NOBODY = 'nobody@example.com'; // an email without an account

/** A new code and one email: what asking for a verification code or a recovery writes. */
const codeSent = (purpose: 'verify' | 'recover', email: string): Change => ({ rows: { outbox: 1 }, codesIssued: [{ purpose, email }] });

/**
 * A well-formed guess of a live code the world knows: surely wrong in a template, and a
 * mutation that makes another 6-digit string is wrong too, but for a one-in-a-million
 * chance: that draw is skipped (fc.pre), as proving the code is no rejection to check here.
 */
function guess(code: string, live: string, codeId: string): Outcome {
  fc.pre(code !== live);
  return rejected(400, 'invalid_code', { codeTried: codeId });
}

/** Recovery starts and proofs: 404 recovery_disabled once the body is valid, when the service has recovery off. */
const unlessRecoveryOff = (world: World, outcome: () => Outcome): Outcome =>
  world.service.deps.config.email.recovery ? outcome() : rejected(404, 'recovery_disabled');

export interface BodyEndpoint {
  name: string;
  method: string;
  path(world: World): string;
  headers(world: World): Record<string, string>;
  schema: z.ZodType;
  template(world: World): Record<string, unknown>;
  accepted(world: World, body: any): Outcome; // for a body the contract's schema accepts
}

const bodyEndpointList: BodyEndpoint[] = [
  {
    name: 'start sign-up',
    method: 'POST',
    path: () => '/v1/challenges',
    headers: () => ({}),
    schema: schemas.StartRegistration,
    template: () => ({ email: 'new@example.com', displayName: 'New' }),
    accepted: (world, body) => startRegistrationOutcome(world, body, 'none'),
  },
  {
    // An enrolment ticket from the admin API: erin's live one.
    name: 'start enrolment',
    method: 'POST',
    path: () => '/v1/challenges',
    headers: () => ({}),
    schema: schemas.StartRegistration,
    template: (world) => ({ ticket: world.pending.ticket }),
    accepted: (world, body) => startRegistrationOutcome(world, body, 'none'),
  },
  {
    name: 'start adding a passkey',
    method: 'POST',
    path: () => '/v1/challenges',
    headers: (world) => ({ authorization: `Bearer ${world.token}` }),
    schema: schemas.StartRegistration,
    template: () => ({ email: ALICE }),
    accepted: (world, body) => startRegistrationOutcome(world, body, 'live'),
  },
  {
    name: 'finish registration (unknown challenge)',
    method: 'PUT',
    path: () => '/v1/challenges',
    headers: () => ({}),
    schema: schemas.FinishRegistration,
    template: (world) => ({ challengeId: randomUUID(), registration: world.samples.registration, name: 'Key' }),
    accepted: () => rejected(400, 'unknown_challenge'),
  },
  {
    name: 'start sign-in',
    method: 'POST',
    path: () => '/v1/tokens',
    headers: () => ({}),
    schema: schemas.StartSignIn,
    template: () => ({ email: ALICE }),
    // Every email, with an account or not, gets the same answer and writes one challenge (no user enumeration).
    accepted: () => ({ status: 200, change: startsChallenge }),
  },
  {
    name: 'finish sign-in (unknown challenge)',
    method: 'PUT',
    path: () => '/v1/tokens',
    headers: () => ({}),
    schema: schemas.FinishSignIn,
    template: (world) => ({ challengeId: randomUUID(), authentication: world.samples.authentication }),
    accepted: () => rejected(401, 'authentication_failed'),
  },
  {
    name: 'introspect',
    method: 'POST',
    path: () => '/v1/tokens/introspect',
    headers: () => ({ 'x-api-key': apiKey }),
    schema: schemas.Introspect,
    template: (world) => ({ token: world.token }),
    accepted: (world, body) => ({
      status: 200,
      check: (reply) => expect(reply.body.active, reply.what).toBe(isSameToken(world.token, body.token)),
    }),
  },
  {
    name: 'rename passkey',
    method: 'PATCH',
    path: (world) => `/v1/credentials/${world.credentialId}`,
    headers: (world) => ({ authorization: `Bearer ${world.token}` }),
    schema: schemas.RenameCredential,
    template: () => ({ name: 'Laptop' }),
    accepted: (world, body) => ({ status: 200, change: { credential: { id: world.credentialId, name: body.name } } }),
  },
  {
    // The body is not read: any JSON body will do.
    name: 'ask for a verification code',
    method: 'POST',
    path: () => '/v1/email-verification',
    headers: (world) => ({ authorization: `Bearer ${world.token}` }),
    schema: z.unknown(),
    template: () => ({}),
    accepted: () => ({ status: 202, change: codeSent('verify', ALICE), check: (reply) => expect(reply.body, reply.what).toEqual({}) }),
  },
  {
    name: 'ask for a verification code (email proven)',
    method: 'POST',
    path: () => '/v1/email-verification',
    headers: (world) => ({ authorization: `Bearer ${world.verifiedToken}` }),
    schema: z.unknown(),
    template: () => ({}),
    accepted: () => rejected(409, 'already_verified'),
  },
  {
    name: 'prove the email',
    method: 'PUT',
    path: () => '/v1/email-verification',
    headers: (world) => ({ authorization: `Bearer ${world.token}` }),
    schema: schemas.ProveEmail,
    template: (world) => ({ code: wrongCode(world.pending.verification.code) }),
    accepted: (world, body) => guess(body.code, world.pending.verification.code, world.pending.verification.id),
  },
  {
    name: 'prove the email (email proven)',
    method: 'PUT',
    path: () => '/v1/email-verification',
    headers: (world) => ({ authorization: `Bearer ${world.verifiedToken}` }),
    schema: schemas.ProveEmail,
    template: () => ({ code: '123456' }),
    // A proven email has no live code (proving it used the code up): any code is wrong, and no try is spent.
    accepted: () => rejected(400, 'invalid_code'),
  },
  {
    name: 'start recovery',
    method: 'POST',
    path: () => '/v1/recovery',
    headers: () => ({}),
    schema: schemas.StartRecovery,
    template: () => ({ email: ALICE }),
    // The same answer and the same writes for every email, with an account or not (no user enumeration).
    accepted: (world, body) =>
      unlessRecoveryOff(world, () => ({
        status: 202,
        change: codeSent('recover', body.email),
        check: (reply) => expect(reply.body, reply.what).toEqual({ recoveryId: expect.stringMatching(/^[0-9a-f-]{36}$/) }),
      })),
  },
  {
    name: 'start recovery (no account)',
    method: 'POST',
    path: () => '/v1/recovery',
    headers: () => ({}),
    schema: schemas.StartRecovery,
    template: () => ({ email: NOBODY }),
    accepted: (world, body) => bodyEndpoints['start recovery']!.accepted(world, body),
  },
  {
    name: 'prove recovery',
    method: 'PUT',
    path: () => '/v1/recovery',
    headers: () => ({}),
    schema: schemas.ProveRecovery,
    template: (world) => ({ recoveryId: world.pending.recovery.id, code: wrongCode(world.pending.recovery.code) }),
    accepted: (world, body) =>
      unlessRecoveryOff(world, () => {
        const { id, code } = world.pending.recovery;
        return body.recoveryId === id ? guess(body.code, code, id) : rejected(400, 'invalid_code');
      }),
  },
  {
    name: 'prove recovery (unknown recoveryId)',
    method: 'PUT',
    path: () => '/v1/recovery',
    headers: () => ({}),
    schema: schemas.ProveRecovery,
    template: () => ({ recoveryId: randomUUID(), code: '123456' }),
    accepted: (world, body) => bodyEndpoints['prove recovery']!.accepted(world, body),
  },
  {
    name: 'admin: create user',
    method: 'POST',
    path: () => '/v1/admin/users',
    headers: () => ADMIN,
    schema: schemas.CreateUser,
    template: () => ({ email: 'new@example.com', displayName: 'New', externalId: 'crm-new', emailVerified: true }),
    accepted: (world, body) => createUserOutcome(world, body),
  },
  {
    name: 'admin: update erin',
    method: 'PATCH',
    path: (world) => `/v1/admin/users/${world.userIds.erin}`,
    headers: () => ADMIN,
    schema: schemas.UpdateUser,
    template: () => ({ displayName: 'Erin E.', externalId: 'crm-erin-2', emailVerified: true }),
    accepted: (world, body) => updateUserOutcome(world, world.userIds.erin, body),
  },
  {
    // Vouching for alice's email takes her pending verification code away.
    name: 'admin: update alice',
    method: 'PATCH',
    path: (world) => `/v1/admin/users/${world.userIds.alice}`,
    headers: () => ADMIN,
    schema: schemas.UpdateUser,
    template: () => ({ emailVerified: true }),
    accepted: (world, body) => updateUserOutcome(world, world.userIds.alice, body),
  },
  {
    name: 'admin: mint a ticket',
    method: 'POST',
    path: (world) => `/v1/admin/users/${world.userIds.erin}/enrollments`,
    headers: () => ADMIN,
    schema: schemas.CreateEnrollment,
    template: () => ({ ttlSeconds: 3600 }),
    accepted: (world, body) => enrolOutcome(world, world.userIds.erin, body.ttlSeconds),
  },
];

export const bodyEndpoints = Object.fromEntries(bodyEndpointList.map((endpoint) => [endpoint.name, endpoint]));
export const endpointName = fc.constantFrom(...bodyEndpointList.map((endpoint) => endpoint.name));

/**
 * What a JSON request body gets at `endpoint`, in the order the service reads it: size and
 * syntax (before any route), then the route's own gate (`gate`: the API key, if it fails),
 * then the schema, then the meaning.
 */
export function outcomeForBody(world: World, endpoint: BodyEndpoint, text: string, gate?: Outcome): Outcome {
  if (Buffer.byteLength(text) > BODY_LIMIT) return rejected(413, 'payload_too_large');
  let value: unknown = {}; // no body counts as {}
  text = text.replace(/^\ufeff/, ''); // body-parser drops a UTF-8 byte order mark
  if (text !== '') {
    // express.json is strict: only an object or an array is JSON enough.
    if (!/^[\x20\x09\x0a\x0d]*[[{]/.test(text)) return rejected(400, 'invalid_json');
    try {
      value = JSON.parse(text);
    } catch {
      return rejected(400, 'invalid_json');
    }
  }
  if (gate) return gate;
  const parsed = endpoint.schema.safeParse(value);
  return parsed.success ? endpoint.accepted(world, parsed.data) : rejected(400, 'invalid_request');
}

export const bodyRequest = (world: World, name: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = JSON_TYPE): Request => ({
  method: bodyEndpoints[name]!.method,
  path: bodyEndpoints[name]!.path(world),
  body,
  headers: { ...bodyEndpoints[name]!.headers(world), ...headers },
});
