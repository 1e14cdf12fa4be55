// What the admin API (docs/api.md, "Admin API") and a registration started with an
// enrolment ticket must answer, worked out from the contract and the world, not from the
// service: routing as Express does it on the path fetch sends, the key, the schemas, and
// then the meaning, with the rows and the one audited event each admin action writes.
import { parse as parseQuery } from 'node:querystring';
import { isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';
import { expect } from 'vitest';
import type { z } from 'zod';
import * as schemas from '../../../server/http/schemas.js';
import { rejected, type Change, type Outcome, type Reply, type Request } from './oracles.js';
import { ADMIN_KEY, ERIN, ticketHash, type World } from './world.js';

type CreateUser = z.output<typeof schemas.CreateUser>;
type UpdateUser = z.output<typeof schemas.UpdateUser>;
type StartRegistration = z.output<typeof schemas.StartRegistration>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const nowOf = (world: World) => world.service.deps.now().toISOString();

/** Fetch and Node strip a header value's outer spaces and tabs. */
export const httpTrim = (value: string) => value.replace(/^[\t ]+|[\t ]+$/g, '');
export const adminKeyAccepted = (headers: Record<string, string> = {}) => httpTrim(headers['x-api-key'] ?? '') === ADMIN_KEY;

// The writes, from what the world knows: the cast is every account there is before a run.

export function createUserOutcome(world: World, body: CreateUser): Outcome {
  const cast = Object.values(world.cast);
  if (cast.some((member) => member.email === body.email)) return rejected(409, 'account_exists');
  if (body.externalId && cast.some((member) => member.externalId === body.externalId)) return rejected(409, 'external_id_exists');
  const now = nowOf(world);
  const user = {
    email: body.email,
    displayName: body.displayName ?? body.email,
    externalId: body.externalId ?? null,
    emailVerifiedAt: body.emailVerified ? now : null,
  };
  return {
    status: 201,
    change: {
      rows: { users: 1 },
      usersCreated: [user],
      adminEvents: [{ type: 'user.created', userId: 'new', detail: body.emailVerified ? 'email vouched for' : null }],
    },
    check: (reply) =>
      expect(reply.body, reply.what).toEqual({
        id: expect.stringMatching(UUID),
        email: user.email,
        emailVerified: user.emailVerifiedAt !== null,
        displayName: user.displayName,
        externalId: user.externalId,
        createdAt: now,
        credentialCount: 0,
      }),
  };
}

export function updateUserOutcome(world: World, id: string, body: UpdateUser): Outcome {
  const member = world.cast[id];
  if (!member) return rejected(404, 'not_found');
  const holder = body.externalId ? Object.entries(world.cast).find(([, other]) => other.externalId === body.externalId) : undefined;
  if (holder && holder[0] !== id) return rejected(409, 'external_id_exists');
  const fields = (['displayName', 'externalId', 'emailVerified'] as const).filter((field) => body[field] !== undefined);
  const after = {
    displayName: body.displayName ?? member.displayName,
    externalId: body.externalId === undefined ? member.externalId : body.externalId,
    emailVerifiedAt: body.emailVerified === undefined ? member.emailVerifiedAt : body.emailVerified ? (member.emailVerifiedAt ?? nowOf(world)) : null,
  };
  const check = (reply: Reply) =>
    expect(reply.body, reply.what).toMatchObject({
      id,
      email: member.email,
      displayName: after.displayName,
      externalId: after.externalId,
      emailVerified: after.emailVerifiedAt !== null,
    });
  // Nothing to change: nothing written, not even an event.
  if (fields.length === 0) return { status: 200, check };
  const change: Change = { users: { [id]: after }, adminEvents: [{ type: 'user.updated', userId: id, detail: fields.join(', ') }] };
  // A vouched-for email has nothing left to prove: its verification codes go.
  if (body.emailVerified) change.verificationCodesRemoved = id;
  return { status: 200, change, check };
}

export function enrolOutcome(world: World, id: string, ttlSeconds: number): Outcome {
  if (!world.cast[id]) return rejected(404, 'not_found');
  const expiresAt = new Date(world.service.deps.now().getTime() + ttlSeconds * 1000).toISOString();
  return {
    status: 201,
    change: {
      rows: { enrollment_tickets: 1 },
      ticketsIssued: [{ userId: id, expiresAt }],
      adminEvents: [{ type: 'enrollment.created', userId: id, detail: `expires ${expiresAt}` }],
    },
    check: (reply) => expect(reply.body, reply.what).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt }),
  };
}

/** How the request that starts a registration is signed in: not at all, with alice's live token, or with a well-formed other one. */
export type Bearer = 'none' | 'live' | 'other';

/**
 * POST /v1/challenges with a body the schema accepts. A ticket comes alone (no token, no
 * email); erin's live one (unless a run let it expire) is used up by the registration it
 * starts, for her; any other is invalid_ticket, and nothing is written.
 */
export function startRegistrationOutcome(world: World, body: StartRegistration, bearer: Bearer, ticketExpired = false): Outcome {
  if (body.ticket !== undefined) {
    if (bearer !== 'none' || body.email) return rejected(400, 'invalid_request');
    if (body.ticket !== world.pending.ticket || ticketExpired) return rejected(400, 'invalid_ticket');
    const passkey = isoBase64URL.fromBuffer(isoUint8Array.fromHex(world.erin.credentialId));
    return {
      status: 200,
      change: { rows: { challenges: 1, enrollment_tickets: -1 }, ticketUsed: ticketHash(body.ticket) },
      check: (reply) => {
        expect(reply.body.options.user.name, reply.what).toBe(ERIN);
        expect(
          reply.body.options.excludeCredentials.map((c: { id: string }) => c.id),
          reply.what,
        ).toEqual([passkey]);
      },
    };
  }
  if (bearer === 'other') return rejected(401, 'unauthorized');
  if (bearer === 'live') {
    return body.email === undefined || body.email === world.cast[world.userIds.alice]!.email
      ? { status: 200, change: { rows: { challenges: 1 } } }
      : rejected(400, 'invalid_request');
  }
  if (body.email === undefined) return rejected(400, 'invalid_request');
  if (Object.values(world.cast).some((member) => member.email === body.email)) return rejected(409, 'account_exists');
  return { status: 200, change: { rows: { challenges: 1 } } };
}

// Any request to the admin API: routing, the key, the schemas, then the meaning.

const routes = [
  { name: 'users', pattern: /^\/v1\/admin\/users\/?$/i, methods: ['GET', 'POST'] },
  { name: 'user', pattern: /^\/v1\/admin\/users\/([^/]+)\/?$/i, methods: ['GET', 'PATCH', 'DELETE'] },
  { name: 'credentials', pattern: /^\/v1\/admin\/users\/([^/]+)\/credentials\/?$/i, methods: ['GET'] },
  { name: 'credential', pattern: /^\/v1\/admin\/users\/([^/]+)\/credentials\/([^/]+)\/?$/i, methods: ['DELETE'] },
  { name: 'sessions', pattern: /^\/v1\/admin\/users\/([^/]+)\/sessions\/?$/i, methods: ['DELETE'] },
  { name: 'enrollments', pattern: /^\/v1\/admin\/users\/([^/]+)\/enrollments\/?$/i, methods: ['POST'] },
  { name: 'events', pattern: /^\/v1\/admin\/events\/?$/i, methods: ['GET'] },
] as const;

/** The fuzz must not delete, or end the sessions of, the accounts the other properties stand on. */
function mayDestroy(world: World, id: string): void {
  if (id in world.cast && id !== world.userIds.erin) throw new Error(`the fuzz drew a destructive request against ${world.cast[id]!.email}`);
}

/**
 * What `request` (its body, if any, JSON text) gets from the admin API. Paths that leave
 * /v1/admin/ once fetch has normalised them (dot segments) are not modelled: any 4xx,
 * and nothing written.
 */
export async function adminOutcome(world: World, request: Request): Promise<Outcome> {
  const url = new URL(world.service.url + request.path);
  const route = routes.find((candidate) => candidate.pattern.test(url.pathname));
  if (!route) return /^\/v1\/admin\//i.test(url.pathname) ? rejected(404, 'not_found') : rejected('4xx');
  let params: string[];
  try {
    // Express decodes a parameter before any handler runs: a malformed one is a 400.
    params = route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent);
  } catch {
    return rejected(400, 'invalid_request');
  }
  if (!(route.methods as readonly string[]).includes(request.method)) return rejected(405, 'method_not_allowed');
  if (!adminKeyAccepted(request.headers)) return rejected(401, 'unauthorized');
  const body = typeof request.body === 'string' && request.body !== '' ? JSON.parse(request.body) : {};
  const query = parseQuery(url.search.slice(1));
  const userId = schemas.UserId.safeParse(params[0]);
  const invalid = rejected(400, 'invalid_request');
  switch (`${request.method} ${route.name}`) {
    case 'GET users': {
      const parsed = schemas.ListUsers.safeParse(query);
      return parsed.success ? usersPage(world, parsed.data) : invalid;
    }
    case 'POST users': {
      const parsed = schemas.CreateUser.safeParse(body);
      return parsed.success ? createUserOutcome(world, parsed.data) : invalid;
    }
    case 'GET events': {
      const parsed = schemas.ListAdminEvents.safeParse(query);
      return parsed.success ? eventsPage(world, parsed.data) : invalid;
    }
    case 'POST enrollments': {
      const parsed = schemas.CreateEnrollment.safeParse(body);
      return parsed.success && userId.success ? enrolOutcome(world, userId.data, parsed.data.ttlSeconds) : invalid;
    }
    case 'PATCH user': {
      const parsed = schemas.UpdateUser.safeParse(body);
      return parsed.success && userId.success ? updateUserOutcome(world, userId.data, parsed.data) : invalid;
    }
    default:
      break;
  }
  if (!userId.success) return invalid;
  const id = userId.data;
  const { db } = world.service.deps;
  switch (route.name) {
    case 'user': {
      if (!(id in world.cast)) return rejected(404, 'not_found');
      if (request.method === 'GET') {
        const [user] = await usersJSON(world, id);
        return { status: 200, check: (reply) => expect(reply.body, reply.what).toEqual(user) };
      }
      mayDestroy(world, id);
      return { status: 204, change: { userDeleted: id, adminEvents: [{ type: 'user.deleted', userId: id, detail: null }] } };
    }
    case 'credentials': {
      if (!(id in world.cast)) return rejected(404, 'not_found');
      const ids = (await db.selectFrom('credentials').select('id').where('user_id', '=', id).execute()).map((row) => row.id);
      return {
        status: 200,
        check: (reply) => expect(reply.body.credentials.map((c: { id: string }) => c.id).sort(), reply.what).toEqual(ids.sort()),
      };
    }
    case 'credential': {
      const credentialId = schemas.CredentialId.safeParse(params[1]);
      if (!credentialId.success) return invalid;
      const owned = await db.selectFrom('credentials').select('id').where('id', '=', credentialId.data).where('user_id', '=', id).executeTakeFirst();
      if (!owned) return rejected(404, 'not_found');
      mayDestroy(world, id);
      // The sessions that passkey opened end with it.
      const opened = await db.selectFrom('sessions').select('jti').where('credential_id', '=', credentialId.data).where('revoked_at', 'is', null).execute();
      return {
        status: 204,
        change: {
          rows: { credentials: -1 },
          credentialDeleted: credentialId.data,
          revoked: opened.length,
          adminEvents: [{ type: 'passkey.deleted', userId: id, credentialId: credentialId.data }],
        },
      };
    }
    case 'sessions': {
      if (!(id in world.cast)) return rejected(404, 'not_found');
      mayDestroy(world, id);
      const now = nowOf(world);
      const live = await db
        .selectFrom('sessions')
        .select('jti')
        .where('user_id', '=', id)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .execute();
      return {
        status: 204,
        change: { revoked: live.length, adminEvents: [{ type: 'sessions.revoked', userId: id, detail: `${live.length} sessions` }] },
      };
    }
    default:
      throw new Error(`unmodelled: ${request.method} ${route.name}`);
  }
}

// Pages, computed here from the rows: newest first (time, then id), from just before the cursor.

interface Position {
  at: string;
  id: string;
}
const newestFirst = (a: Position, b: Position) => (a.at === b.at ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.at < b.at ? 1 : -1);
const before = (row: Position, cursor: Position) => row.at < cursor.at || (row.at === cursor.at && row.id < cursor.id);
// How the database orders text other than the service's own timestamps and ids depends on
// its collation: only such cursors get the exact page; any other, a page that could be right.
const canonical = (cursor: Position | undefined) =>
  cursor === undefined || (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(cursor.at) && UUID.test(cursor.id));

function page<T extends Position, J>(rows: T[], limit: number, cursor: Position | undefined, toJSON: (row: T) => J) {
  const sorted = rows.filter((row) => cursor === undefined || before(row, cursor)).sort(newestFirst);
  const shown = sorted.slice(0, limit);
  const last = shown.at(-1);
  return { items: shown.map(toJSON), next: sorted.length > limit && last ? schemas.encodeEventCursor({ at: last.at, id: last.id }) : null };
}

/** A page that could be right: at most `limit` of the candidates (by key), newest first. */
function plausiblePage(reply: Reply, shown: unknown[], limit: number, candidates: Set<string>, key: (item: any) => string, position: (item: any) => Position) {
  expect(shown.length, reply.what).toBeLessThanOrEqual(limit);
  for (const item of shown) expect(candidates.has(key(item)), `${reply.what}: ${key(item)} is no candidate`).toBe(true);
  const positions = shown.map(position);
  expect([...positions].sort(newestFirst), reply.what).toEqual(positions);
  expect(reply.body.next === null || typeof reply.body.next === 'string', reply.what).toBe(true);
}

async function usersJSON(world: World, id?: string) {
  const { db } = world.service.deps;
  let query = db.selectFrom('users').selectAll();
  if (id !== undefined) query = query.where('id', '=', id);
  const users = await query.execute();
  const credentials = await db.selectFrom('credentials').select('user_id').execute();
  return users.map((row) => ({
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified_at !== null,
    displayName: row.display_name,
    externalId: row.external_id,
    createdAt: row.created_at,
    credentialCount: credentials.filter((credential) => credential.user_id === row.id).length,
  }));
}

async function usersPage(world: World, query: z.output<typeof schemas.ListUsers>): Promise<Outcome> {
  const users = (await usersJSON(world))
    .filter((user) => (query.email === undefined || user.email === query.email) && (query.externalId === undefined || user.externalId === query.externalId))
    .map((user) => ({ ...user, at: user.createdAt }));
  const expected = page(users, query.limit, query.cursor, ({ at: _, ...user }) => user);
  return {
    status: 200,
    check: (reply) => {
      if (!canonical(query.cursor)) {
        const candidates = new Set(users.map((user) => user.id));
        return plausiblePage(
          reply,
          reply.body.users,
          query.limit,
          candidates,
          (user) => user.id,
          (user) => ({ at: user.createdAt, id: user.id }),
        );
      }
      expect(reply.body, reply.what).toEqual({ users: expected.items, next: expected.next });
    },
  };
}

async function eventsPage(world: World, query: z.output<typeof schemas.ListAdminEvents>): Promise<Outcome> {
  let select = world.service.deps.db.selectFrom('audit_events').selectAll();
  if (query.userId !== undefined) select = select.where('user_id', '=', query.userId);
  const events = (await select.execute()).filter((row) => query.type === undefined || row.type === query.type).map((row) => ({ ...row, at: row.created_at }));
  const expected = page(events, query.limit, query.before, (row) => ({
    userId: row.user_id,
    type: row.type,
    at: row.created_at,
    credentialId: row.credential_id,
    detail: row.detail,
    ip: row.ip,
    actor: row.actor,
  }));
  return {
    status: 200,
    check: (reply) => {
      if (!canonical(query.before)) {
        // Events have no id in the answer: what they say stands for them, and only their time orders them.
        const key = (event: { at: string; type: string; userId: string; detail: string | null }) =>
          JSON.stringify([event.at, event.userId, event.type, event.detail]);
        const candidates = new Set(events.map((row) => key({ at: row.created_at, type: row.type, userId: row.user_id, detail: row.detail })));
        return plausiblePage(reply, reply.body.events, query.limit, candidates, key, (event) => ({ at: event.at, id: '' }));
      }
      expect(reply.body, reply.what).toEqual({ events: expected.items, next: expected.next });
    },
  };
}
