// Property-based fuzzing of the HTTP contract (docs/api.md) with fast-check.
//
// Thousands of random and mutated requests go at every endpoint. For every one of them
// this file checks what the contract promises about bad input:
// - never a 5xx;
// - every 4xx is application/problem+json with a string `code`;
// - a rejected request leaves the database as it was: the row counts of every table
//   (tableCounts), the counter / last_used_at / name of every existing credential, and
//   how many sessions are revoked. The one write a rejected *finish* makes by design,
//   using up the live challenge it presented, is asserted exactly;
// - a 2xx only where the contract allows one: a well-formed start, a rename, a valid
//   token, and, for a mutated WebAuthn response, only when the mutation left everything
//   that is signed or checked as it was (clientExtensionResults, authenticatorAttachment,
//   ...). Such harmless mutations must be accepted; every other one must be a 4xx.
//
// Each describe block shares one service (and one signed-up account) between its
// properties. Every run reads the database right before and right after its request, so
// runs, and fast-check's shrinking, do not depend on each other. On a failure fast-check
// prints the seed and the shrunk counterexample.
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  decodeClientDataJSON,
  decodeCredentialPublicKey,
  isoBase64URL,
  isoCBOR,
  isoUint8Array,
  parseAuthenticatorData,
  verifySignature,
} from '@simplewebauthn/server/helpers';
import fc from 'fast-check';
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as schemas from '../../server/http/schemas.js';
import type { AuthenticatorOptions, StoredCredential } from '../helpers/authenticator.js';
import { apiKey, signIn, signUp, SoftAuthenticator, startService, tableCounts, type TestService } from '../helpers/service.js';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const BODY_LIMIT = 64 * 1024; // express.json({ limit: '64kb' }), in bytes
const JSON_TYPE = { 'content-type': 'application/json' };
const RUN_TIMEOUT = 120_000;

// ---------------------------------------------------------------------------
// The world a describe block shares: one service, alice signed up with one passkey.

interface World {
  service: TestService;
  alice: SoftAuthenticator;
  token: string; // alice's live session token
  credentialId: string; // hex id of alice's only passkey
  samples: { registration: RegistrationResponseJSON; authentication: AuthenticationResponseJSON };
  forgedTokens: string[]; // well-formed JWTs that must never be accepted
}

async function openWorld(): Promise<World> {
  // Rate limits would turn the thousands of requests below into 429s.
  const service = await startService({ RATE_LIMIT_ENABLED: 'false' });
  const alice = new SoftAuthenticator();
  const { token, credential } = await signUp(service, alice, ALICE);
  // Real-looking responses for templates (their challenges are never finished).
  const start = await service.request('POST', '/v1/challenges', { email: 'template@example.com' });
  const registration = await new SoftAuthenticator().createCredential(start.body.options);
  const signInStart = await service.request('POST', '/v1/tokens', { email: ALICE });
  const authentication = await alice.getAssertion(signInStart.body.options);
  return {
    service,
    alice,
    token,
    credentialId: credential.id,
    samples: { registration, authentication },
    forgedTokens: await forgeTokens(service, token),
  };
}

function useWorld(): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await openWorld();
  });
  afterAll(async () => {
    await world?.service.close();
  });
  return () => world!;
}

// ---------------------------------------------------------------------------
// One request, and the rules every reply obeys.

let requestsThrown = 0;
afterAll(() => {
  console.log(`fuzz: ${requestsThrown} requests thrown; inherited leniencies seen: ${JSON.stringify(leniencies)}`);
});

interface Request {
  method: string;
  path: string;
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

interface Reply {
  status: number;
  body: any;
  what: string; // for assertion messages
}

async function send(world: World, request: Request): Promise<Reply> {
  requestsThrown += 1;
  const response = await fetch(world.service.url + request.path, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  let body: unknown = text;
  if (type.includes('json') && text) {
    try {
      body = JSON.parse(text);
    } catch {
      // left as text: the assertions below say what was wrong
    }
  }
  const what = `${request.method} ${request.path.slice(0, 120)} -> ${response.status} ${text.slice(0, 300)}`;
  expect(response.status, what).toBeLessThan(500);
  if (response.status >= 400) {
    expect(type, what).toMatch(/^application\/problem\+json/);
    if (request.method !== 'HEAD') expect(body, what).toMatchObject({ status: response.status, code: expect.any(String) });
  }
  return { status: response.status, body, what };
}

// ---------------------------------------------------------------------------
// What the database holds, and how a request may change it.

type Counts = Awaited<ReturnType<typeof tableCounts>>;
interface CredentialSnapshot {
  counter: number;
  lastUsedAt: string | null;
  name: string;
}
interface DbState {
  counts: Counts;
  credentials: Record<string, CredentialSnapshot>;
  revoked: number;
}

async function dbState(world: World): Promise<DbState> {
  const { db } = world.service.deps;
  const rows = await db.selectFrom('credentials').select(['id', 'counter', 'last_used_at', 'name']).execute();
  const revoked = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('revoked_at', 'is not', null)
    .executeTakeFirstOrThrow();
  return {
    counts: await tableCounts(world.service.deps),
    credentials: Object.fromEntries(
      rows.map((row) => [row.id, { counter: Number(row.counter), lastUsedAt: row.last_used_at, name: row.name }]),
    ),
    revoked: Number(revoked.n),
  };
}

interface Change {
  rows?: Partial<Counts>;
  credential?: { id: string } & Partial<CredentialSnapshot>;
  revoked?: number;
}
const nothing: Change = {};
const challengeUsedUp: Change = { rows: { challenges: -1 } };

async function expectDb(world: World, before: DbState, change: Change, what: string): Promise<void> {
  const after = await dbState(world);
  const counts = { ...before.counts };
  for (const [table, delta] of Object.entries(change.rows ?? {})) counts[table as keyof Counts] += delta;
  expect(after.counts, `row counts after ${what}`).toEqual(counts);
  const credentials = structuredClone(before.credentials);
  if (change.credential) {
    const { id, ...fields } = change.credential;
    Object.assign(credentials[id]!, fields);
  }
  const existing = Object.fromEntries(Object.keys(before.credentials).map((id) => [id, after.credentials[id]]));
  expect(existing, `existing credentials after ${what}`).toEqual(credentials);
  expect(after.revoked, `revoked sessions after ${what}`).toBe(before.revoked + (change.revoked ?? 0));
}

/** What the contract says a request gets: a status (or any 4xx), maybe a code, and its effect. */
interface Outcome {
  status: number | '4xx';
  code?: string;
  change?: Change;
  check?: (reply: Reply) => void;
}

const matches = (outcome: Outcome, status: number) =>
  outcome.status === '4xx' ? status >= 400 && status < 500 : outcome.status === status;

/** Sends `request` and checks its reply and its effect on the database against `expected`
 * (one outcome, or several that are all acceptable: the reply's status picks one). */
async function expectOutcome(world: World, request: Request, expected: Outcome | Outcome[]): Promise<Reply> {
  const before = await dbState(world);
  const reply = await send(world, request);
  const outcomes = [expected].flat();
  const outcome = outcomes.find((candidate) => matches(candidate, reply.status));
  expect(outcome, `${reply.what}: expected ${outcomes.map((o) => o.status).join(' or ')}`).toBeDefined();
  if (outcome!.code) expect(reply.body.code, reply.what).toBe(outcome!.code);
  outcome!.check?.(reply);
  await expectDb(world, before, outcome!.change ?? nothing, reply.what);
  return reply;
}

const rejected = (status: number | '4xx', code?: string, change: Change = nothing): Outcome => ({ status, code, change });

// ---------------------------------------------------------------------------
// Small helpers: JSON paths, bytes, tokens.

const sha256 = (data: string | Uint8Array) => new Uint8Array(createHash('sha256').update(data).digest());
const bytesOf = (data: ArrayLike<number>) => Uint8Array.from(data);
const b64 = (bytes: ArrayLike<number>) => isoBase64URL.fromBuffer(bytesOf(bytes));

function getAt(value: unknown, path: string): unknown {
  return path.split('.').reduce<any>((node, key) => (node === null || typeof node !== 'object' ? undefined : node[key]), value);
}

/** A copy of `value` with `path` set to `next` (or removed when `next` is undefined). */
function setAt<T>(value: T, path: string, next: unknown): T {
  const copy = structuredClone(value) as any;
  const keys = path.split('.');
  const last = keys.pop()!;
  let node = copy;
  for (const key of keys) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key];
  }
  if (next === undefined) delete node[last];
  else Object.defineProperty(node, last, { value: next, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Every member of every object inside `value`, as dotted paths. */
function pathsOf(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...pathsOf(child, path)];
  });
}

type ByteEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'remove'; at: number; count: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
);

function editBytes(bytes: ArrayLike<number>, edit: ByteEdit): Uint8Array<ArrayBuffer> {
  const out = Uint8Array.from(bytes);
  const at = (n: number) => (out.length === 0 ? 0 : n % out.length);
  switch (edit.kind) {
    case 'flip':
      if (out.length > 0) out[at(edit.at)]! ^= 1 << edit.bit;
      return out;
    case 'set':
      if (out.length > 0) out[at(edit.at)] = edit.value;
      return out;
    case 'truncate':
      return out.subarray(0, out.length === 0 ? 0 : edit.keep % out.length);
    case 'append':
      return isoUint8Array.concat([out, bytesOf(edit.bytes)]);
    case 'remove':
      return isoUint8Array.concat([out.subarray(0, at(edit.at)), out.subarray(at(edit.at) + edit.count)]);
  }
}

const sameBytes = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && isoUint8Array.areEqual(isoBase64URL.toBuffer(a), isoBase64URL.toBuffer(b));

/**
 * Whether `candidate` is the session token `real`: same header and payload text (the JWS
 * signing input) and a signature that decodes, as jose decodes it, to the same bytes.
 */
function isSameToken(real: string, candidate: string): boolean {
  const [header, payload, signature, ...rest] = candidate.split('.');
  const [realHeader, realPayload, realSignature] = real.split('.');
  if (rest.length > 0 || signature === undefined || header !== realHeader || payload !== realPayload) return false;
  try {
    return isoUint8Array.areEqual(bytesOf(base64url.decode(signature)), bytesOf(base64url.decode(realSignature!)));
  } catch {
    return false;
  }
}

/** Well-formed JWTs that must not verify: alg none, a foreign key, and the service's own key
 * on claims no session backs (unknown jti, someone else's sub, expired, wrong iss or aud). */
async function forgeTokens(service: TestService, token: string): Promise<string[]> {
  const { deps } = service;
  const claims = decodeJwt(token);
  const { alg, kid } = decodeProtectedHeader(token);
  const sign = (key: CryptoKey | Uint8Array, payload: Record<string, unknown>, header: { alg: string; kid?: string; typ?: string } = { alg: alg!, kid, typ: 'JWT' }) =>
    new SignJWT(payload).setProtectedHeader(header).sign(key);
  const foreign = await generateKeyPair(alg!);
  const own = deps.keys.privateKey;
  const now = Math.floor(deps.now().getTime() / 1000);
  const unsigned = `${b64(new TextEncoder().encode(JSON.stringify({ alg: 'none', typ: 'JWT' })))}.${token.split('.')[1]}.`;
  return [
    unsigned,
    await sign(foreign.privateKey, claims),
    await sign(own, { ...claims, jti: randomUUID() }),
    await sign(own, { ...claims, sub: randomUUID() }),
    await sign(own, { ...claims, iat: now - 7200, exp: now - 3600 }),
    await sign(own, { ...claims, aud: 'someone-else' }),
    await sign(own, { ...claims, iss: 'https://evil.example' }),
    await sign(new TextEncoder().encode(JSON.stringify(deps.keys.jwks)), claims, { alg: 'HS256', kid }),
  ];
}

// ---------------------------------------------------------------------------
// Arbitraries.

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Text that databases, parsers and logs are known to trip over. */
const hostileText = fc.constantFrom(
  '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\u202e', '\ufeff', '%00', '\\', "'; drop table users; --", '${x}', '<script>', '\r\n',
);

/** Any string: printable, unicode, control characters (NUL included), and hostile text. */
const anyString = (maxLength = 24) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom('\u0000', '\t', '\n', ' ', '\u00a0', '\u200b', '\ufeff', 'é', '😀', '\ud800'), maxLength: 6 }),
    hostileText,
  );

const anyJson = fc.oneof({ weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }));

/** base64url text of any length (including impossible ones, 1 mod 4), padded or not. */
const randomBase64url = fc.oneof(
  fc.uint8Array({ maxLength: 160 }).map(b64),
  fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 120 }),
  fc
    .tuple(fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 60 }), fc.constantFrom('=', '=='))
    .map(([text, padding]) => text + padding),
);

/** Values a wrong-typed field gets (undefined: the field is left out). */
const wrongValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  anyString(),
  hostileText,
  fc.constantFrom('', '   ', 'public-key', 'platform', '0'.repeat(64)),
  fc.array(anyJson, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), anyJson, { maxKeys: 3 }),
);

/** Values that are close to right for some WebAuthn field, and random JSON. */
const plausibleValue = fc.oneof(
  fc.constantFrom<unknown>(
    'platform', 'cross-platform', 'public-key', 'webauthn.get', 'webauthn.create', '', [], ['usb', 'nfc'], ['internal'],
    ['telepathy'], {}, { credProps: { rk: true } }, { appid: true }, -7, -8, -257, -35, 0, null, true,
  ),
  anyJson,
);

/** Anything isoCBOR can encode: numbers, strings, bytes, arrays, maps. */
const cborValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 80 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -4, max: 4 })), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  ),
})).value;

/** Printable header text, latin-1 included (what fetch and Node let through). */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

/** How a token is mangled; applied to the live token when the request is made. */
type TokenEdit =
  | { kind: 'same' }
  | { kind: 'char'; at: number; char: string }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; text: string }
  | { kind: 'segment'; index: number; value: string }
  | { kind: 'segments'; order: number[] }
  | { kind: 'signature-spare-bits'; bits: number } // only the unused bits of the last character
  | { kind: 'forged'; index: number }
  | { kind: 'random'; text: string };

const tokenEdit: fc.Arbitrary<TokenEdit> = fc.oneof(
  fc.constant({ kind: 'same' as const }),
  fc.record({ kind: fc.constant('char' as const), at: fc.nat(), char: fc.constantFrom(...BASE64URL, '.', '+', '/', '=', '~', ' ', '%') }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), text: fc.oneof(fc.constantFrom('=', '==', '.', 'A', '.x'), headerText) }),
  fc.record({ kind: fc.constant('segment' as const), index: fc.integer({ min: 0, max: 2 }), value: fc.oneof(randomBase64url, headerText) }),
  fc.record({ kind: fc.constant('segments' as const), order: fc.shuffledSubarray([0, 1, 2], { minLength: 1 }) }),
  fc.record({ kind: fc.constant('signature-spare-bits' as const), bits: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ kind: fc.constant('forged' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('random' as const), text: fc.oneof(headerText, randomBase64url) }),
);

function editToken(world: World, token: string, edit: TokenEdit): string {
  const at = (n: number) => n % token.length;
  const segments = token.split('.');
  switch (edit.kind) {
    case 'same':
      return token;
    case 'char':
      return token.slice(0, at(edit.at)) + edit.char + token.slice(at(edit.at) + 1);
    case 'truncate':
      return token.slice(0, at(edit.keep));
    case 'append':
      return token + edit.text;
    case 'segment':
      return segments.map((segment, i) => (i === edit.index ? edit.value : segment)).join('.');
    case 'segments':
      return edit.order.map((i) => segments[i]).join('.');
    case 'signature-spare-bits': {
      // An ES256 signature is 64 bytes: its last base64url character carries 2 bits and 4 spare ones.
      const last = BASE64URL.indexOf(token.at(-1)!);
      return token.slice(0, -1) + BASE64URL[(last & ~0x0f) | edit.bits];
    }
    case 'forged':
      return world.forgedTokens[edit.index % world.forgedTokens.length]!;
    case 'random':
      return edit.text;
  }
}

// ---------------------------------------------------------------------------
// The endpoints that take a JSON body, with what a schema-valid body gets there.

interface BodyEndpoint {
  name: string;
  method: string;
  path(world: World): string;
  headers(world: World): Record<string, string>;
  schema: z.ZodType;
  template(world: World): Record<string, unknown>;
  accepted(world: World, body: any): Outcome; // for a body the contract's schema accepts
}

const startsChallenge: Change = { rows: { challenges: 1 } };

const bodyEndpointList: BodyEndpoint[] = [
  {
    name: 'start sign-up',
    method: 'POST',
    path: () => '/v1/challenges',
    headers: () => ({}),
    schema: schemas.StartRegistration,
    template: () => ({ email: 'new@example.com', displayName: 'New' }),
    accepted: (_world, body) =>
      body.email === undefined
        ? rejected(400, 'invalid_request')
        : body.email === ALICE
          ? rejected(409, 'account_exists')
          : { status: 200, change: startsChallenge },
  },
  {
    name: 'start adding a passkey',
    method: 'POST',
    path: () => '/v1/challenges',
    headers: (world) => ({ authorization: `Bearer ${world.token}` }),
    schema: schemas.StartRegistration,
    template: () => ({ email: ALICE }),
    accepted: (_world, body) =>
      body.email === undefined || body.email === ALICE ? { status: 200, change: startsChallenge } : rejected(400, 'invalid_request'),
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
];

const bodyEndpoints = Object.fromEntries(bodyEndpointList.map((endpoint) => [endpoint.name, endpoint]));
const endpointName = fc.constantFrom(...bodyEndpointList.map((endpoint) => endpoint.name));

/**
 * What a JSON request body gets at `endpoint`, in the order the service reads it: size and
 * syntax (before any route), then the route's own gate (`gate`: the API key, if it fails),
 * then the schema, then the meaning.
 */
function outcomeForBody(world: World, endpoint: BodyEndpoint, text: string, gate?: Outcome): Outcome {
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

const bodyRequest = (world: World, name: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = JSON_TYPE): Request => ({
  method: bodyEndpoints[name]!.method,
  path: bodyEndpoints[name]!.path(world),
  body,
  headers: { ...bodyEndpoints[name]!.headers(world), ...headers },
});

// ---------------------------------------------------------------------------
// Mutations of a valid WebAuthn response.

type ResponseMutation =
  | { kind: 'delete'; path: string }
  | { kind: 'replace'; path: string; value: unknown }
  | { kind: 'base64url'; path: string; value: string }
  | { kind: 'bytes'; path: string; edit: ByteEdit }
  | { kind: 'extra'; path: string; key: string; value: unknown }
  | { kind: 'clientData'; key: string; value: unknown };

interface ResponseShape {
  paths: string[]; // every member
  base64url: string[]; // members that hold base64url
  objects: string[]; // members that hold objects ('' is the body itself)
  clientData: string; // where clientDataJSON is
}

const registrationShape: ResponseShape = {
  paths: [
    'challengeId', 'name', 'registration', 'registration.id', 'registration.rawId', 'registration.type',
    'registration.response', 'registration.response.clientDataJSON', 'registration.response.attestationObject',
    'registration.response.authenticatorData', 'registration.response.transports',
    'registration.response.publicKeyAlgorithm', 'registration.response.publicKey',
    'registration.authenticatorAttachment', 'registration.clientExtensionResults',
  ],
  base64url: [
    'registration.id', 'registration.rawId', 'registration.response.clientDataJSON',
    'registration.response.attestationObject', 'registration.response.authenticatorData', 'registration.response.publicKey',
  ],
  objects: ['', 'registration', 'registration.response', 'registration.clientExtensionResults'],
  clientData: 'registration.response.clientDataJSON',
};

const authenticationShape: ResponseShape = {
  paths: [
    'challengeId', 'authentication', 'authentication.id', 'authentication.rawId', 'authentication.type',
    'authentication.response', 'authentication.response.clientDataJSON', 'authentication.response.authenticatorData',
    'authentication.response.signature', 'authentication.response.userHandle',
    'authentication.authenticatorAttachment', 'authentication.clientExtensionResults',
  ],
  base64url: [
    'authentication.id', 'authentication.rawId', 'authentication.response.clientDataJSON',
    'authentication.response.authenticatorData', 'authentication.response.signature', 'authentication.response.userHandle',
  ],
  objects: ['', 'authentication', 'authentication.response', 'authentication.clientExtensionResults'],
  clientData: 'authentication.response.clientDataJSON',
};

const memberKey = fc.string({ minLength: 1, maxLength: 10 }).filter((key) => !key.includes('.') && key !== '__proto__');
const clientDataValue = fc.oneof(
  fc.constantFrom<unknown>(
    'webauthn.get', 'webauthn.create', 'http://localhost:3000', 'http://localhost:3001', 'https://localhost:3000',
    'http://evil.example', 'null', true, false, { status: 'present' }, { status: 'bogus' }, 'AAAA',
  ),
  anyJson,
);

function responseMutation(shape: ResponseShape): fc.Arbitrary<ResponseMutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...shape.paths) }),
    fc.record({ kind: fc.constant('replace' as const), path: fc.constantFrom(...shape.paths), value: plausibleValue }),
    fc.record({ kind: fc.constant('base64url' as const), path: fc.constantFrom(...shape.base64url), value: randomBase64url }),
    fc.record({ kind: fc.constant('bytes' as const), path: fc.constantFrom(...shape.base64url), edit: byteEdit }),
    fc.record({ kind: fc.constant('extra' as const), path: fc.constantFrom(...shape.objects), key: memberKey, value: anyJson }),
    fc.record({
      kind: fc.constant('clientData' as const),
      key: fc.oneof(fc.constantFrom('type', 'challenge', 'origin', 'crossOrigin', 'topOrigin', 'tokenBinding'), memberKey),
      value: fc.option(clientDataValue, { nil: undefined }),
    }),
  );
}

function mutateResponse<T>(body: T, shape: ResponseShape, mutation: ResponseMutation): T {
  switch (mutation.kind) {
    case 'delete':
      return setAt(body, mutation.path, undefined);
    case 'replace':
    case 'base64url':
      return setAt(body, mutation.path, mutation.value);
    case 'bytes': {
      const value = getAt(body, mutation.path);
      if (typeof value !== 'string') return body;
      return setAt(body, mutation.path, b64(editBytes(isoBase64URL.toBuffer(value), mutation.edit)));
    }
    case 'extra':
      return setAt(body, mutation.path ? `${mutation.path}.${mutation.key}` : mutation.key, mutation.value);
    case 'clientData': {
      const clientData = JSON.parse(isoBase64URL.toUTF8String(getAt(body, shape.clientData) as string));
      const next = setAt(clientData, mutation.key, mutation.value);
      return setAt(body, shape.clientData, isoBase64URL.fromUTF8String(JSON.stringify(next)));
    }
  }
}

/** Edits of the CBOR attestation object (registration only). */
type AttestationEdit =
  | { kind: 'random-cbor'; value: unknown }
  | { kind: 'random-bytes'; bytes: Uint8Array }
  | { kind: 'truncate'; keep: number }
  | { kind: 'entry'; key: string; value: unknown }
  | { kind: 'auth-data'; edit: ByteEdit }
  | { kind: 'flag'; bit: number }
  | { kind: 'public-key'; key: number; value: unknown };

const attestationEdit: fc.Arbitrary<AttestationEdit> = fc.oneof(
  fc.record({ kind: fc.constant('random-cbor' as const), value: cborValue }),
  fc.record({
    kind: fc.constant('random-cbor' as const),
    value: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom('fmt', 'attStmt', 'authData'), fc.string({ maxLength: 6 })), cborValue), { maxLength: 4 })
      .map((entries) => new Map(entries)),
  }),
  fc.record({
    kind: fc.constant('random-bytes' as const),
    bytes: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 120 }).map((b) => isoUint8Array.concat([Uint8Array.of(0xa3), b]))),
  }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('entry' as const),
    key: fc.constantFrom('fmt', 'attStmt', 'authData'),
    value: fc.option(
      fc.oneof(
        fc.constantFrom<unknown>('none', 'packed', 'fido-u2f', 'tpm', 'apple', 'android-key', new Map(), new Map([['alg', -7]]), 0, [], ''),
        fc.uint8Array({ minLength: 30, maxLength: 160 }),
        cborValue,
      ),
      { nil: undefined },
    ),
  }),
  fc.record({ kind: fc.constant('auth-data' as const), edit: byteEdit }),
  fc.record({ kind: fc.constant('flag' as const), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('public-key' as const),
    key: fc.constantFrom(1, 3, -1, -2, -3, 7),
    value: fc.option(fc.oneof(fc.constantFrom<unknown>(-7, -8, -257, -35, -999, 1, 2, 6, 'x'), cborValue), { nil: undefined }),
  }),
);

function editAttestation(attestationObject: string, edit: AttestationEdit): string {
  const bytes = isoBase64URL.toBuffer(attestationObject);
  switch (edit.kind) {
    case 'random-cbor':
      return b64(isoCBOR.encode(edit.value as never));
    case 'random-bytes':
      return b64(edit.bytes);
    case 'truncate':
      return b64(bytes.subarray(0, edit.keep % bytes.length));
    default:
      break;
  }
  const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(bytes);
  const authData = Uint8Array.from(attestation.get('authData') as Uint8Array);
  if (edit.kind === 'entry') {
    if (edit.value === undefined) attestation.delete(edit.key);
    else attestation.set(edit.key, edit.value);
  } else if (edit.kind === 'auth-data') {
    attestation.set('authData', editBytes(authData, edit.edit));
  } else if (edit.kind === 'flag') {
    authData[32]! ^= 1 << edit.bit;
    attestation.set('authData', authData);
  } else {
    // rpIdHash(32) flags(1) counter(4) aaguid(16) idLength(2) id | COSE public key
    const keyStart = 55 + ((authData[53]! << 8) | authData[54]!);
    const publicKey = isoCBOR.decodeFirst<Map<number, unknown>>(authData.subarray(keyStart));
    if (edit.value === undefined) publicKey.delete(edit.key);
    else publicKey.set(edit.key, edit.value);
    attestation.set('authData', isoUint8Array.concat([authData.subarray(0, keyStart), isoCBOR.encode(publicKey as never)]));
  }
  return b64(isoCBOR.encode(attestation as never));
}

/**
 * 'pass': the mutated response passes every check the service must make, 'fail': it does not,
 * lenient: it fails only a check that SimpleWebAuthn 14 does not make, so the service
 * inherits the leniency: then either answer goes, and the database must match the one given.
 * The leniencies seen (and how often the service accepted them) are printed at the end.
 */
type Verdict = 'pass' | 'fail' | { lenient: string };
const lenient = (what: string): Verdict => ({ lenient: what });
const leniencies: Record<string, { seen: number; accepted: number }> = {};

function outcomesFor(verdict: Verdict, accepted: Outcome, refused: Outcome): Outcome | Outcome[] {
  if (verdict === 'pass') return accepted;
  if (verdict === 'fail') return refused;
  const tally = (leniencies[verdict.lenient] ??= { seen: 0, accepted: 0 });
  tally.seen += 1;
  return [{ ...accepted, check: () => void (tally.accepted += 1) }, refused];
}

/**
 * ES256 on P-256, EdDSA on Ed25519 or RS256 with e = 65537 and a 2048- to 4096-bit modulus,
 * labelled so, that node:crypto imports.
 */
function registrableKey(key: { get(label: number): unknown }): boolean {
  const member = (label: number, length?: number) => {
    const value = key.get(label);
    if (!(value instanceof Uint8Array) || value.length === 0 || (length !== undefined && value.length !== length)) throw new Error(`member ${label}`);
    return b64(value);
  };
  const importJwk = (jwk: Record<string, string>) => createPublicKey({ key: jwk, format: 'jwk' });
  const [kty, alg, crv] = [key.get(1), key.get(3), key.get(-1)];
  try {
    if (kty === 2 && alg === -7 && crv === 1) return Boolean(importJwk({ kty: 'EC', crv: 'P-256', x: member(-2, 32), y: member(-3, 32) }));
    if (kty === 1 && alg === -8 && crv === 6) return Boolean(importJwk({ kty: 'OKP', crv: 'Ed25519', x: member(-2, 32) }));
    if (kty === 3 && alg === -257) {
      const details = importJwk({ kty: 'RSA', n: member(-1), e: member(-2) }).asymmetricKeyDetails!;
      return details.publicExponent === 65537n && details.modulusLength! >= 2048 && details.modulusLength! <= 4096;
    }
    return false;
  } catch {
    return false;
  }
}

/**
 * Whether a registration response still passes every check the service makes: with
 * attestation 'none' nothing is signed, so "harmless" means exactly this. The rules are
 * those of WebAuthn §7.1 as SimpleWebAuthn's verifyRegistrationResponse applies them (type,
 * challenge, origin, token binding, fmt 'none' with an empty statement, RP ID hash, UP and
 * UV, backup flags, a credential id and a key with a supported alg) plus the service's own:
 * the id the client names is the attested one, the key is one of the three it registers
 * (registrableKey), and no cross-origin framing (the world sets no TOP_ORIGINS). Parsing
 * uses the library's own decoders.
 */
function registrationVerdict(world: World, registration: RegistrationResponseJSON, challenge: string): Verdict {
  const { config } = world.service.deps;
  try {
    if (!registration.id || registration.id !== registration.rawId || registration.type !== 'public-key') return 'fail';
    const clientData = decodeClientDataJSON(registration.response.clientDataJSON);
    if (clientData.type !== 'webauthn.create' || clientData.challenge !== challenge) return 'fail';
    if (!config.origins.includes(clientData.origin)) return 'fail';
    if (clientData.crossOrigin || clientData.topOrigin) return 'fail';
    const binding = clientData.tokenBinding as { status?: unknown } | undefined;
    if (binding && (typeof binding !== 'object' || !['present', 'supported', 'not-supported'].includes(binding.status as string))) {
      return 'fail';
    }
    const attestation = isoCBOR.decodeFirst<Map<string, unknown>>(isoBase64URL.toBuffer(registration.response.attestationObject));
    const authData = parseAuthenticatorData(attestation.get('authData') as Uint8Array<ArrayBuffer>);
    if (!isoUint8Array.areEqual(bytesOf(authData.rpIdHash), sha256(config.rpId))) return 'fail';
    if (!authData.flags.up || (config.userVerification === 'required' && !authData.flags.uv)) return 'fail';
    if (authData.flags.bs && !authData.flags.be) return 'fail';
    if (!authData.credentialID || !authData.credentialPublicKey || !authData.aaguid) return 'fail';
    if (b64(authData.credentialID) !== registration.id) return 'fail';
    if (!registrableKey(decodeCredentialPublicKey(authData.credentialPublicKey))) return 'fail';
    if (attestation.get('fmt') !== 'none') return 'fail';
    const statement = attestation.get('attStmt');
    if (statement instanceof Map) return statement.size === 0 ? 'pass' : 'fail';
    // 'none' wants attStmt to be an empty map; SimpleWebAuthn 14 only rejects a non-empty one
    // (`attStmt.size > 0`), so bytes, a string, a number or an array get through.
    return statement === undefined || statement === null ? 'fail' : lenient('registration: attStmt of fmt "none" is not a map');
  } catch {
    return 'fail';
  }
}

/**
 * Whether a mutated assertion is still the one the authenticator signed: the same id,
 * rawId and type, the same bytes of everything signed (clientDataJSON, authenticatorData)
 * and a signature that verifies over them as the WebAuthn spec has it (ES256: ASN.1 DER;
 * Node's OpenSSL verifier is strict), and the same userHandle (which may be left out when
 * the sign-in already names the account). Everything else (extension results, attachment,
 * unknown members) is neither signed nor checked.
 */
async function assertionVerdict(
  original: AuthenticationResponseJSON,
  sent: AuthenticationResponseJSON,
  boundToUser: boolean,
  credential: StoredCredential,
): Promise<Verdict> {
  if (sent.id !== original.id || sent.rawId !== original.rawId || sent.type !== original.type) return 'fail';
  if (!sameBytes(sent.response.clientDataJSON, original.response.clientDataJSON)) return 'fail';
  if (!sameBytes(sent.response.authenticatorData, original.response.authenticatorData)) return 'fail';
  const userHandle = sent.response.userHandle;
  if (userHandle !== original.response.userHandle && !(boundToUser && !userHandle)) return 'fail';
  if (sameBytes(sent.response.signature, original.response.signature)) return 'pass';
  const signed = isoUint8Array.concat([
    isoBase64URL.toBuffer(original.response.authenticatorData),
    sha256(isoBase64URL.toBuffer(original.response.clientDataJSON)),
  ]);
  const signature = isoBase64URL.toBuffer(sent.response.signature);
  const publicKey = createPublicKey(credential.privateKey);
  if (verify(credential.algorithm === 'ES256' ? 'sha256' : null, signed, publicKey, signature)) return 'pass';
  // SimpleWebAuthn 14 unwraps an ES256 signature with @peculiar/asn1-schema, which takes BER,
  // not only DER: another tag or length byte, or bytes after the SEQUENCE, and the same
  // (r, s) still verifies.
  try {
    if (await verifySignature({ signature, data: signed, credentialPublicKey: credential.publicKey })) {
      return lenient('sign-in: an ES256 signature that is not DER but still verifies');
    }
  } catch {
    // not a signature at all
  }
  return 'fail';
}

// ---------------------------------------------------------------------------
// The properties.

describe('fuzz: random bodies at every endpoint that takes one', () => {
  const world = useWorld();
  const template = (name: string) => bodyEndpoints[name]!.template(world());
  /** An endpoint's name and one member of its well-formed body (drawn once the world exists). */
  const endpointAndPath = (extra: string[] = []) =>
    endpointName.chain((name) => fc.record({ name: fc.constant(name), path: fc.constantFrom(...extra, ...pathsOf(template(name))) }));

  /** Sends `text` as the JSON body and checks the reply against the contract. */
  const sendBody = (name: string, text: string) =>
    expectOutcome(world(), bodyRequest(world(), name, text), outcomeForBody(world(), bodyEndpoints[name]!, text));

  it('random JSON values as bodies -> the schema decides: 4xx, or the contract\'s 2xx', { timeout: RUN_TIMEOUT }, async () => {
    const fields = ['email', 'displayName', 'challengeId', 'registration', 'authentication', 'name', 'token'];
    const body = fc.oneof(anyJson, fc.dictionary(fc.oneof(fc.constantFrom(...fields), memberKey), anyJson, { maxKeys: 5 }));
    await fc.assert(
      fc.asyncProperty(endpointName, body, (name, value) => sendBody(name, JSON.stringify(value)).then(() => {})),
      { numRuns: 1000 },
    );
  });

  it('one field of a well-formed body with a wrong type, or left out', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(endpointAndPath(), wrongValue, async ({ name, path }, value) => {
        await sendBody(name, JSON.stringify(setAt(template(name), path, value)));
      }),
      { numRuns: 1000 },
    );
  });

  it('huge strings in any field, bodies just under and over 64 kB -> 413 over the limit, else the schema decides', { timeout: RUN_TIMEOUT }, async () => {
    const char = fc.constantFrom('a', 'A', '-', ' ', 'é', '€', '😀', '\u0000');
    // the size of the whole body, in bytes
    const size = fc.oneof(
      fc.constantFrom(BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, BODY_LIMIT + 4, 8_200, 16_390, 70_000),
      fc.integer({ min: 1_000, max: 80_000 }),
    );
    await fc.assert(
      fc.asyncProperty(endpointAndPath(['padding']), char, size, async ({ name, path }, char, size) => {
        const overhead = Buffer.byteLength(JSON.stringify(setAt(template(name), path, '')));
        const width = Buffer.byteLength(JSON.stringify(char)) - 2;
        const huge = char.repeat(Math.max(0, Math.floor((size - overhead) / width)));
        await sendBody(name, JSON.stringify(setAt(template(name), path, huge)));
      }),
      { numRuns: 150 },
    );
  });

  it('raw bodies, content types and content encodings -> only a proper JSON request can succeed', { timeout: RUN_TIMEOUT }, async () => {
    const jsonTypes = ['application/json', 'application/json; charset=utf-8', 'Application/JSON'];
    const text = fc.oneof(
      fc.constant('template'),
      fc.nat().map((n) => ({ templateCutAt: n })),
      anyJson.map((value) => JSON.stringify(value)),
      anyString(80),
      fc.constantFrom('', ' ', '{', '[]', 'null', '{"__proto__": {"x": 1}}', '\ufeff{}', '{"a": 1e999999}', `${'['.repeat(5000)}${']'.repeat(5000)}`),
    );
    const contentType = fc.option(
      fc.oneof(
        fc.constantFrom(...jsonTypes),
        fc.constantFrom(
          'application/json; charset=ascii', 'application/json; charset=latin1', 'application/json; charset=nope',
          'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/problem+json',
          'application/json, text/plain', 'application/jsonx', '*/*', '', 'json',
        ),
        headerText,
      ),
      { nil: undefined },
    );
    const encoding = fc.constantFrom(undefined, 'identity', 'gzip', 'deflate', 'br', 'x-gzip', 'compress', 'gzip, gzip', 'nope');
    const compression = fc.constantFrom('proper' as const, 'none' as const, 'truncated' as const);
    const compressors: Record<string, (data: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync };

    await fc.assert(
      fc.asyncProperty(endpointName, text, contentType, encoding, compression, async (name, text, contentType, encoding, compression) => {
        const full = JSON.stringify(template(name));
        const body = text === 'template' ? full : typeof text === 'string' ? text : full.slice(0, text.templateCutAt % full.length);
        const compressor = encoding === undefined ? undefined : compressors[encoding];
        let bytes: Uint8Array = Buffer.from(body);
        if (compressor && compression !== 'none') bytes = compressor(Buffer.from(body));
        if (compressor && compression === 'truncated') bytes = bytes.subarray(0, Math.floor(bytes.length / 2));
        const headers: Record<string, string> = {};
        if (contentType !== undefined) headers['content-type'] = contentType;
        if (encoding !== undefined) headers['content-encoding'] = encoding;
        // Only a request the service can read may succeed: a JSON type, UTF-8, a body decoded as sent.
        const readable =
          contentType !== undefined &&
          jsonTypes.includes(contentType) &&
          (encoding === undefined || encoding === 'identity' || (compressor !== undefined && compression === 'proper'));
        const outcome = readable ? outcomeForBody(world(), bodyEndpoints[name]!, body) : rejected('4xx');
        await expectOutcome(world(), bodyRequest(world(), name, bytesOf(bytes), headers), outcome);
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: random paths and methods', () => {
  const world = useWorld();
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'LOCK', 'PURGE', 'MKCOL', 'SEARCH', 'REPORT', 'COPY', 'MOVE'];
  const knownPaths = [
    '/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/.well-known/jwks.json', '/embed.js', '/passkeys.js',
    '/vendor/alpine-csp.js', '/v1/challenges', '/v1/tokens', '/v1/tokens/introspect', '/v1/me', '/v1/credentials',
    '/v1/credentials/00ff', '/v1/events', '/v1/sessions/current',
  ];
  const segment = fc.oneof(
    anyString(12),
    fc.constantFrom('..', '.', '%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%2f', '%2e%2e', '%25', ';', '~', '*', ':id', 'v1', 'credentials', 'tokens', 'current'),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('hex')),
  );
  const path = fc.oneof(
    fc.constantFrom(...knownPaths),
    fc.tuple(fc.constantFrom(...knownPaths), fc.array(segment, { minLength: 1, maxLength: 3 })).map(([known, rest]) => `${known}/${rest.join('/')}`),
    fc.array(segment, { maxLength: 5 }).map((segments) => `/${segments.join('/')}`),
    fc.tuple(fc.constantFrom(...knownPaths), anyString(20)).map(([known, query]) => `${known}?${query}`),
    fc.constantFrom(...knownPaths).map((known) => known.toUpperCase()),
    // the one route with a parameter, which Express decodes before any handler runs
    fc.tuple(fc.constantFrom('/v1/credentials/', '/V1/credentials/'), segment).map(([route, id]) => route + id),
  );

  it('no body, no credentials: never a 5xx, and only POST /v1/tokens (a usernameless start) writes', { timeout: RUN_TIMEOUT }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), path, async (method, path) => {
        const pathname = new URL(world().service.url + path).pathname; // as fetch will send it
        const before = await dbState(world());
        const reply = await send(world(), { method, path });
        const startsSignIn = method === 'POST' && /^\/v1\/tokens\/?$/i.test(pathname) && reply.status === 200;
        await expectDb(world(), before, startsSignIn ? startsChallenge : nothing, reply.what);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fuzz: Authorization headers and tokens', () => {
  const world = useWorld();

  interface SessionEndpoint {
    method: string;
    path(world: World): string;
    body?: string;
    accepted(world: World): Outcome; // with alice's live token
  }
  const sessionEndpoints: SessionEndpoint[] = [
    { method: 'GET', path: () => '/v1/me', accepted: () => ({ status: 200, check: (r) => expect(r.body.email).toBe(ALICE) }) },
    { method: 'GET', path: () => '/v1/credentials', accepted: () => ({ status: 200 }) },
    { method: 'GET', path: () => '/v1/events', accepted: () => ({ status: 200 }) },
    {
      method: 'PATCH',
      path: (w) => `/v1/credentials/${w.credentialId}`,
      body: JSON.stringify({ name: 'Renamed by fuzz' }),
      accepted: (w) => ({ status: 200, change: { credential: { id: w.credentialId, name: 'Renamed by fuzz' } } }),
    },
    { method: 'DELETE', path: (w) => `/v1/credentials/${w.credentialId}`, accepted: () => rejected(409, 'last_credential') },
    { method: 'DELETE', path: () => `/v1/credentials/${'ab'.repeat(32)}`, accepted: () => rejected(404, 'not_found') },
    { method: 'DELETE', path: () => '/v1/sessions/current', accepted: () => ({ status: 204, change: { revoked: 1 } }) },
    { method: 'POST', path: () => '/v1/challenges', body: '{}', accepted: () => ({ status: 200, change: startsChallenge }) },
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
            : header === undefined && endpoint.method === 'POST'
              ? rejected(400, 'invalid_request') // no token: a sign-up, which needs an email
              : rejected(401, 'unauthorized');
        const reply = await expectOutcome(w, { method: endpoint.method, path: endpoint.path(w), body: endpoint.body, headers }, outcome);
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

  it('introspection with random X-API-Key and tokens -> 401 without the key, else active only for the live token', { timeout: RUN_TIMEOUT }, async () => {
    const key = fc.oneof(
      fc.constantFrom(apiKey, ` ${apiKey}\t`, undefined, '', apiKey.toUpperCase(), `${apiKey}x`, apiKey.slice(0, -1), `${apiKey},${apiKey}`),
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
        const keyAccepted = key !== undefined && httpTrim(key) === apiKey;
        const outcome = outcomeForBody(w, bodyEndpoints.introspect!, text, keyAccepted ? undefined : rejected(401, 'unauthorized'));
        await expectOutcome(w, { method: 'POST', path: '/v1/tokens/introspect', body: text, headers }, outcome);
      }),
      { numRuns: 800 },
    );
  });
});

describe('fuzz: mutated registration responses for a live challenge', () => {
  const world = useWorld();
  let accounts = 0;
  const authenticatorOptions = fc.constantFrom<AuthenticatorOptions>({}, { algorithm: 'Ed25519' }, { backupEligible: true, backedUp: true });

  /**
   * Starts a registration (a sign-up, or a passkey for alice), lets a fresh authenticator
   * answer it, mutates the answer, sends it, and checks the result: invalid shape -> 400 and
   * the challenge is untouched; still passing every check -> 201 and the passkey (for a sign-up
   * also the account and its session) is written; anything else -> 400 registration_failed and
   * only the challenge is used up.
   */
  async function registerMutated(options: AuthenticatorOptions, addToAlice: boolean, mutate: (body: any) => any): Promise<Outcome | Outcome[]> {
    const w = world();
    accounts += 1;
    const start = addToAlice
      ? await send(w, { method: 'POST', path: '/v1/challenges', body: '{}', headers: { ...JSON_TYPE, authorization: `Bearer ${w.token}` } })
      : await send(w, { method: 'POST', path: '/v1/challenges', body: JSON.stringify({ email: `fuzz-${accounts}@example.com` }), headers: JSON_TYPE });
    expect(start.status, start.what).toBe(200);
    const original = { challengeId: start.body.challengeId, registration: await new SoftAuthenticator(options).createCredential(start.body.options) };
    const body = mutate(original);
    const parsed = schemas.FinishRegistration.safeParse(JSON.parse(JSON.stringify(body)));
    let outcome: Outcome | Outcome[];
    if (!parsed.success) outcome = rejected(400, 'invalid_request');
    else if (parsed.data.challengeId !== original.challengeId) outcome = rejected(400, 'unknown_challenge');
    else {
      const verdict = registrationVerdict(w, parsed.data.registration as RegistrationResponseJSON, start.body.options.challenge);
      // A sign-up creates the account and signs it in; adding a passkey keeps alice's session.
      const rows = addToAlice ? { credentials: 1, challenges: -1 } : { users: 1, credentials: 1, sessions: 1, challenges: -1 };
      const accepted: Outcome = { status: 201, change: { rows } };
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
      fc.record({ path: fc.constant('registration.response.transports'), value: fc.subarray(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']) }),
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

describe('fuzz: mutated sign-in responses for a live challenge', () => {
  const world = useWorld();
  const bob = new SoftAuthenticator({ algorithm: 'Ed25519', backupEligible: true, backedUp: true });
  beforeAll(async () => {
    await signUp(world().service, bob, BOB);
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
      fc.record({ byEmail: fc.boolean(), path: fc.constant('authentication.clientExtensionResults'), value: fc.dictionary(memberKey, anyJson, { maxKeys: 3 }) }),
      fc.record({ byEmail: fc.boolean(), path: fc.constant('authentication.authenticatorAttachment'), value: fc.constantFrom('platform', 'cross-platform', undefined) }),
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
      fc.asyncProperty(fc.constantFrom('alice' as const, 'bob' as const), fc.boolean(), responseMutation(authenticationShape), async (who, byEmail, mutation) => {
        await signInMutated(who, byEmail, (body) => mutateResponse(body, authenticationShape, mutation));
      }),
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
