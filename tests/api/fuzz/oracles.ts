// Property-based fuzzing of the HTTP contract (docs/api.md) with fast-check: what every
// random or mutated request of the specs in this folder is held to.
// - never a 5xx;
// - every 4xx is application/problem+json with a string `code`;
// - a rejected request leaves the database as it was: the row counts of every table
//   (tableCounts: no email code issued, no email queued in the outbox, no enrolment
//   ticket), the counter / last_used_at / name of every existing credential, how many
//   sessions are revoked, every email code (its tries included), every user's email,
//   name, externalId and when their email was proven, every enrolment ticket, and the
//   audit trail: no event is changed or removed, and none is written with an `actor`
//   (the events of an admin action; other new events are not held to anything: the trail
//   records failures too). The writes a rejection makes by design are asserted exactly: a
//   rejected *finish* uses up the live challenge it presented, and a well-formed but
//   wrong code spends one try of the live code it was checked against
//   (email_codes.attempts + 1: a code dies after five; codeTried) and changes nothing else;
// - a 2xx only where the contract allows one: a well-formed start, a rename, a valid
//   token, a new code asked for (a verification code, a recovery: one code, one email
//   queued), an admin action (exactly its rows, and exactly one event naming the admin
//   key as its actor), a ticket used up by the registration it starts, and, for a mutated
//   WebAuthn response, only when the mutation left everything that is signed or checked
//   as it was (clientExtensionResults, authenticatorAttachment, ...). Such harmless
//   mutations must be accepted; every other one must be a 4xx.
// On a failure fast-check prints the seed and the shrunk counterexample.
import { base64url } from 'jose';
import { isoUint8Array } from '@simplewebauthn/server/helpers';
import { afterAll, expect } from 'vitest';
import type { EmailCodePurpose } from '../../../server/db/schema.js';
import { emailKey, maxCodeAttempts } from '../../../server/email/codes.js';
import { tableCounts } from '../../helpers/service.js';
import { bytesOf } from './bytes.js';
import { leniencies } from './verdicts.js';
import { ADMIN_ACTOR, settle, type World } from './world.js';

// Each spec file loads this module afresh, so the tally is that file's.
let requestsThrown = 0;
afterAll(() => {
  console.log(`fuzz: ${requestsThrown} requests thrown; inherited leniencies seen: ${JSON.stringify(leniencies)}`);
});

// One request, and the rules every reply obeys.

export interface Request {
  method: string;
  path: string;
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

export interface Reply {
  status: number;
  body: any;
  what: string; // for assertion messages
}

export async function send(world: World, request: Request): Promise<Reply> {
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

// What the database holds, and how a request may change it.

type Counts = Awaited<ReturnType<typeof tableCounts>>;
interface CredentialSnapshot {
  userId: string;
  counter: number;
  lastUsedAt: string | null;
  name: string;
}
interface CodeSnapshot {
  purpose: string;
  emailKey: string;
  userId: string | null;
  attempts: number;
  expiresAt: string;
}
export interface UserSnapshot {
  email: string;
  displayName: string;
  externalId: string | null;
  emailVerifiedAt: string | null;
}
interface TicketSnapshot {
  userId: string;
  expiresAt: string;
}
interface EventSnapshot {
  userId: string;
  type: string;
  credentialId: string | null;
  detail: string | null;
  actor: string | null;
}
/** The rows a user's deletion takes along (email codes aside: they are held to one by one). */
interface Owned {
  credentials: number;
  sessions: number;
  revoked: number;
  challenges: number;
  tickets: number;
}
export interface DbState {
  counts: Counts;
  credentials: Record<string, CredentialSnapshot>;
  revoked: number;
  codes: Record<string, CodeSnapshot>; // every email code, by id
  users: Record<string, UserSnapshot>; // every user, by id
  tickets: Record<string, TicketSnapshot>; // every enrolment ticket, by hash
  events: Record<string, EventSnapshot>; // the whole audit trail, by id
  owned?: Owned; // of the user a request may delete
}

async function ownedBy(world: World, userId: string): Promise<Owned> {
  const { db } = world.service.deps;
  const count = async (table: 'credentials' | 'sessions' | 'challenges' | 'enrollment_tickets', revoked = false) => {
    let query = db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId);
    if (revoked) query = query.where('revoked_at' as never, 'is not', null);
    return Number((await query.executeTakeFirstOrThrow()).n);
  };
  return {
    credentials: await count('credentials'),
    sessions: await count('sessions'),
    revoked: await count('sessions', true),
    challenges: await count('challenges'),
    tickets: await count('enrollment_tickets'),
  };
}

/** The database as the oracles see it; with `deleting`, also what that user's deletion would take along. */
export async function dbState(world: World, deleting?: string): Promise<DbState> {
  const { db } = world.service.deps;
  const rows = await db.selectFrom('credentials').select(['id', 'user_id', 'counter', 'last_used_at', 'name']).execute();
  const revoked = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('revoked_at', 'is not', null)
    .executeTakeFirstOrThrow();
  const codes = await db.selectFrom('email_codes').select(['id', 'purpose', 'email_key', 'user_id', 'attempts', 'expires_at']).execute();
  const users = await db.selectFrom('users').select(['id', 'email', 'display_name', 'external_id', 'email_verified_at']).execute();
  const tickets = await db.selectFrom('enrollment_tickets').select(['ticket_hash', 'user_id', 'expires_at']).execute();
  const events = await db.selectFrom('audit_events').select(['id', 'user_id', 'type', 'credential_id', 'detail', 'actor']).execute();
  return {
    counts: await tableCounts(world.service.deps),
    credentials: Object.fromEntries(
      rows.map((row) => [row.id, { userId: row.user_id, counter: Number(row.counter), lastUsedAt: row.last_used_at, name: row.name }]),
    ),
    revoked: Number(revoked.n),
    codes: Object.fromEntries(
      codes.map((row) => [
        row.id,
        { purpose: row.purpose, emailKey: row.email_key, userId: row.user_id, attempts: Number(row.attempts), expiresAt: row.expires_at },
      ]),
    ),
    users: Object.fromEntries(
      users.map((user) => [
        user.id,
        { email: user.email, displayName: user.display_name, externalId: user.external_id, emailVerifiedAt: user.email_verified_at },
      ]),
    ),
    tickets: Object.fromEntries(tickets.map((row) => [row.ticket_hash, { userId: row.user_id, expiresAt: row.expires_at }])),
    events: Object.fromEntries(
      events.map((row) => [row.id, { userId: row.user_id, type: row.type, credentialId: row.credential_id, detail: row.detail, actor: row.actor }]),
    ),
    ...(deleting === undefined ? {} : { owned: await ownedBy(world, deleting) }),
  };
}

export interface Change {
  rows?: Partial<Omit<Counts, 'email_codes'>>; // email_codes follows from codeTried and codesIssued
  credential?: { id: string } & Partial<CredentialSnapshot>;
  revoked?: number;
  /** The code (by id) a well-formed guess was checked against: one try spent, if it had one left and was live. */
  codeTried?: string;
  /** A new code for each (purpose, email), untried, in place of the pair's previous one. */
  codesIssued?: { purpose: EmailCodePurpose; email: string }[];
  /** The user whose verification codes are gone (an admin vouched for the email). */
  verificationCodesRemoved?: string;
  credentialDeleted?: string;
  /** New values of existing users' fields, by id. */
  users?: Record<string, Partial<UserSnapshot>>;
  /** The users a request creates (rows.users says how many; these are held to only when given). */
  usersCreated?: UserSnapshot[];
  /** A user deleted with every row about them (their passkeys, sessions, challenges, codes, tickets and audit trail). */
  userDeleted?: string;
  ticketUsed?: string; // its hash
  ticketsIssued?: TicketSnapshot[];
  /** The events an admin action writes, with the admin key as their actor ('new': the user the request creates). */
  adminEvents?: AdminEvent[];
}
export interface AdminEvent {
  type: string;
  userId: string;
  credentialId?: string | null;
  detail?: string | null;
}
export const nothing: Change = {};
export const challengeUsedUp: Change = { rows: { challenges: -1 } };
export const startsChallenge: Change = { rows: { challenges: 1 } };

export async function expectDb(world: World, before: DbState, change: Change, what: string): Promise<void> {
  const after = await dbState(world);
  const deleted = change.userDeleted;
  const counts = { ...before.counts };
  for (const [table, delta] of Object.entries(change.rows ?? {})) counts[table as keyof Counts] += delta;
  let revoked = before.revoked + (change.revoked ?? 0);
  if (deleted !== undefined) {
    const owned = before.owned!;
    counts.users -= 1;
    counts.credentials -= owned.credentials;
    counts.sessions -= owned.sessions;
    counts.challenges -= owned.challenges;
    counts.enrollment_tickets -= owned.tickets;
    revoked -= owned.revoked;
  }
  counts.email_codes = after.counts.email_codes; // held to by expectCodes, row by row
  expect(after.counts, `row counts after ${what}`).toEqual(counts);
  const credentials = structuredClone(before.credentials);
  if (change.credential) {
    const { id, ...fields } = change.credential;
    Object.assign(credentials[id]!, fields);
  }
  for (const [id, credential] of Object.entries(credentials)) {
    if (id === change.credentialDeleted || credential.userId === deleted) delete credentials[id];
  }
  // toEqual takes a member that is undefined (a row gone) for one that is absent.
  expect(pick(after.credentials, before.credentials), `existing credentials after ${what}`).toEqual(credentials);
  expect(after.revoked, `revoked sessions after ${what}`).toBe(revoked);
  expectUsers(before, after, change, what);
  expectTickets(before, after, change, what);
  expectEvents(before, after, change, what);
  expectCodes(world, before, after, change, what);
}

function expectUsers(before: DbState, after: DbState, change: Change, what: string): void {
  const users = structuredClone(before.users);
  for (const [id, fields] of Object.entries(change.users ?? {})) Object.assign(users[id]!, fields);
  if (change.userDeleted !== undefined) delete users[change.userDeleted];
  expect(pick(after.users, before.users), `existing users after ${what}`).toEqual(users);
  if (change.usersCreated) {
    const created = Object.entries(after.users)
      .filter(([id]) => !(id in before.users))
      .map(([, user]) => user);
    expect(created, `new users after ${what}`).toEqual(change.usersCreated);
  }
}

function expectTickets(before: DbState, after: DbState, change: Change, what: string): void {
  const tickets = structuredClone(before.tickets);
  for (const [hash, ticket] of Object.entries(tickets)) {
    if (hash === change.ticketUsed || ticket.userId === change.userDeleted) delete tickets[hash];
  }
  expect(pick(after.tickets, before.tickets), `earlier enrolment tickets after ${what}`).toEqual(tickets);
  const fresh = Object.entries(after.tickets)
    .filter(([hash]) => !(hash in before.tickets))
    .map(([, ticket]) => ticket);
  expect(fresh, `new enrolment tickets after ${what}`).toEqual(change.ticketsIssued ?? []);
}

/**
 * The audit trail: every earlier event as it was (but a deleted user's, which go with
 * them), and exactly the events of the admin action among the new ones with an actor.
 */
function expectEvents(before: DbState, after: DbState, change: Change, what: string): void {
  const events = structuredClone(before.events);
  for (const [id, event] of Object.entries(events)) if (event.userId === change.userDeleted) delete events[id];
  expect(pick(after.events, before.events), `earlier audit events after ${what}`).toEqual(events);
  const createdIds = Object.keys(after.users).filter((id) => !(id in before.users));
  const byType = (a: { type: string }, b: { type: string }) => a.type.localeCompare(b.type);
  const expected = (change.adminEvents ?? [])
    .map((event) => ({
      userId: event.userId === 'new' ? createdIds[0] : event.userId,
      type: event.type,
      credentialId: event.credentialId ?? null,
      actor: ADMIN_ACTOR,
      ...('detail' in event ? { detail: event.detail } : {}),
    }))
    .sort(byType);
  // An event's detail is held to only when the change says what it is.
  const acted = Object.entries(after.events)
    .filter(([id, event]) => !(id in before.events) && event.actor !== null)
    .map(([, event]) => event)
    .sort(byType)
    .map(({ detail, ...event }, i) => (expected[i] && 'detail' in expected[i] ? { ...event, detail } : event));
  expect(acted, `new events with an actor after ${what}`).toEqual(expected);
}

const pick = <T>(record: Record<string, T>, keys: Record<string, unknown>) => Object.fromEntries(Object.keys(keys).map((key) => [key, record[key]]));

/**
 * The email codes after a request: every earlier code as it was (or gone, if a new code of
 * its purpose and email replaced it), but for the one try a guess spent (codeTried), and
 * exactly one new, untried code for each of codesIssued.
 */
function expectCodes(world: World, before: DbState, after: DbState, change: Change, what: string): void {
  const { serverSecret, now } = world.service.deps;
  const issued = (change.codesIssued ?? []).map(({ purpose, email }) => ({ purpose, emailKey: emailKey(serverSecret, email), attempts: 0 }));
  const codes = structuredClone(before.codes);
  const tried = change.codeTried === undefined ? undefined : codes[change.codeTried];
  if (tried && tried.attempts < maxCodeAttempts && tried.expiresAt > now().toISOString()) tried.attempts += 1;
  for (const [id, code] of Object.entries(codes)) {
    if (issued.some((fresh) => fresh.purpose === code.purpose && fresh.emailKey === code.emailKey)) delete codes[id];
    if (code.userId !== null && code.userId === change.userDeleted) delete codes[id];
    if (code.purpose === 'verify' && code.userId !== null && code.userId === change.verificationCodesRemoved) delete codes[id];
  }
  // toEqual takes a member that is undefined (a code gone) for one that is absent.
  expect(pick(after.codes, before.codes), `earlier email codes after ${what}`).toEqual(codes);
  const order = (code: { purpose: string; emailKey: string }) => `${code.purpose} ${code.emailKey}`;
  const fresh = Object.entries(after.codes)
    .filter(([id]) => !(id in before.codes))
    .map(([, { purpose, emailKey, attempts }]) => ({ purpose, emailKey, attempts }));
  expect(
    fresh.sort((a, b) => order(a).localeCompare(order(b))),
    `new email codes after ${what}`,
  ).toEqual(issued.sort((a, b) => order(a).localeCompare(order(b))));
}

/** What the contract says a request gets: a status (or any 4xx), maybe a code, and its effect. */
export interface Outcome {
  status: number | '4xx';
  code?: string;
  change?: Change;
  check?: (reply: Reply) => void;
}

const matches = (outcome: Outcome, status: number) => (outcome.status === '4xx' ? status >= 400 && status < 500 : outcome.status === status);

/** Sends `request` and checks its reply and its effect on the database against `expected`
 * (one outcome, or several that are all acceptable: the reply's status picks one). */
export async function expectOutcome(world: World, request: Request, expected: Outcome | Outcome[]): Promise<Reply> {
  try {
    const deleting = [expected].flat().find((outcome) => outcome.change?.userDeleted !== undefined)?.change?.userDeleted;
    const before = await dbState(world, deleting);
    const reply = await send(world, request);
    const outcomes = [expected].flat();
    const outcome = outcomes.find((candidate) => matches(candidate, reply.status));
    expect(outcome, `${reply.what}: expected ${outcomes.map((o) => o.status).join(' or ')}`).toBeDefined();
    if (outcome!.code) expect(reply.body.code, reply.what).toBe(outcome!.code);
    outcome!.check?.(reply);
    await expectDb(world, before, outcome!.change ?? nothing, reply.what);
    return reply;
  } finally {
    await settle(world);
  }
}

export const rejected = (status: number | '4xx', code?: string, change: Change = nothing): Outcome => ({ status, code, change });

// Whether a token is the live one.

/**
 * Whether `candidate` is the session token `real`: same header and payload text (the JWS
 * signing input) and a signature that decodes, as jose decodes it, to the same bytes.
 */
export function isSameToken(real: string, candidate: string): boolean {
  const [header, payload, signature, ...rest] = candidate.split('.');
  const [realHeader, realPayload, realSignature] = real.split('.');
  if (rest.length > 0 || signature === undefined || header !== realHeader || payload !== realPayload) return false;
  try {
    return isoUint8Array.areEqual(bytesOf(base64url.decode(signature)), bytesOf(base64url.decode(realSignature!)));
  } catch {
    return false;
  }
}
