// The admin API: the site's own backend manages its users (X-API-Key from ADMIN_API_KEYS).
// Invariants (docs/security-model.md):
// - Every action is an audit event whose `actor` names the key that acted (its fingerprint).
// - Deleting a user removes every row about them in one transaction (passkeys, sessions,
//   challenges, codes, tickets, their audit trail); one `user.deleted` event remains, holding
//   only the user's random id, the acting key and when. Their tokens fail at once (no session row).
// - A ticket is 256 random bits, stored only as its SHA-256, single-use (DELETE … RETURNING
//   when a registration starts with it: of concurrent starts one wins), and expires.
// - Removing a passkey ends the sessions it opened; the admin may remove the last one.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import type { Deps, RequestContext } from './deps.js';
import { auditEnvelope, insertAuditEvent, listAuditEvents, type EventPosition, type NewAuditEvent } from './db/audit-events.js';
import { insertChallenge } from './db/challenges.js';
import { deleteCredential, listCredentialsByUser } from './db/credentials.js';
import { isUniqueViolation } from './db/errors.js';
import type { Db, UsersTable } from './db/schema.js';
import { revokeSessionsOfCredential, revokeSessionsOfUser } from './db/sessions.js';
import { accountExists, findUserByEmail, findUserByExternalId, findUserById, insertUser, lockUser } from './db/users.js';
import { AppError } from './errors.js';
import { notifyWebhooks, queueWebhookEvent, queueWebhookEvents, sessionsRevoked } from './webhooks/events.js';
import { newChallenge } from './ceremonies/challenges.js';
import { toCredentialJSON, type CredentialJSON } from './ceremonies/credential-json.js';
import { creationOptions, type StartedCeremony } from './ceremonies/registration.js';

/** Who acts through the admin API: the key's fingerprint, and the backend's address. */
export interface AdminContext extends RequestContext {
  key: string;
}

export interface UserJSON {
  id: string;
  email: string;
  emailVerified: boolean;
  displayName: string;
  externalId: string | null;
  createdAt: string;
  credentialCount: number;
}

type UserWithCount = UsersTable & { credential_count: number | string | bigint };

const toUserJSON = (row: UserWithCount): UserJSON => ({
  id: row.id,
  email: row.email,
  emailVerified: row.email_verified_at !== null,
  displayName: row.display_name,
  externalId: row.external_id,
  createdAt: row.created_at,
  credentialCount: Number(row.credential_count),
});

const notFound = () => new AppError('not_found', 'No such user');
const externalIdExists = (cause?: unknown) => new AppError('external_id_exists', 'Another user has this externalId', { cause });

const usersWithCount = (db: Db) =>
  db
    .selectFrom('users')
    .selectAll('users')
    .select((eb) =>
      eb
        .selectFrom('credentials')
        .select((c) => c.fn.countAll().as('n'))
        .whereRef('credentials.user_id', '=', 'users.id')
        .as('credential_count'),
    );

/** The user an action is about, held until the transaction ends (a deletion waits for it); 404 if none. */
async function holdUser(trx: Db, id: string): Promise<UsersTable> {
  await lockUser(trx, id);
  const user = await findUserById(trx, id);
  if (!user) throw notFound();
  return user;
}

async function findUser(db: Db, id: string): Promise<UserJSON> {
  const row = await usersWithCount(db).where('users.id', '=', id).executeTakeFirst();
  if (!row) throw notFound();
  return toUserJSON(row as UserWithCount);
}

const event = (deps: Deps, context: AdminContext, userId: string, fields: Omit<NewAuditEvent, 'user_id' | 'ip' | 'created_at'>): NewAuditEvent => ({
  ...auditEnvelope(userId, context, deps.now().toISOString()),
  actor: `admin:${context.key}`,
  ...fields,
});

/** Which constraint a racing insert or update hit, asked once the winner has committed. */
async function whichTaken(deps: Deps, error: unknown, email: string | undefined, externalId: string | null | undefined): Promise<AppError> {
  if (email !== undefined && (await findUserByEmail(deps.db, email))) return accountExists(error);
  if (externalId) return externalIdExists(error);
  throw error;
}

export async function createUser(
  deps: Deps,
  input: { email: string; displayName?: string | undefined; externalId?: string | undefined; emailVerified?: boolean | undefined },
  context: AdminContext,
): Promise<UserJSON> {
  const id = randomUUID();
  const now = deps.now().toISOString();
  const hooks = await deps.db
    .transaction()
    .execute(async (trx) => {
      if (await findUserByEmail(trx, input.email)) throw accountExists();
      if (input.externalId && (await findUserByExternalId(trx, input.externalId))) {
        throw externalIdExists();
      }
      await insertUser(trx, {
        id,
        email: input.email,
        display_name: input.displayName ?? input.email,
        user_handle: isoBase64URL.fromBuffer(randomBytes(32)),
        created_at: now,
        email_verified_at: input.emailVerified ? now : null,
        external_id: input.externalId ?? null,
      });
      await insertAuditEvent(trx, event(deps, context, id, { type: 'user.created', detail: input.emailVerified ? 'email vouched for' : null }));
      return queueWebhookEvents(trx, deps, [
        { type: 'user.created', data: { userId: id } },
        ...(input.emailVerified ? [{ type: 'user.email_verified' as const, data: { userId: id } }] : []),
      ]);
    })
    .catch(async (error: unknown) => {
      throw isUniqueViolation(error) ? await whichTaken(deps, error, input.email, input.externalId) : error;
    });
  notifyWebhooks(deps, hooks);
  return findUser(deps.db, id);
}

export const getUser = (deps: Deps, id: string) => findUser(deps.db, id);

/** Users, newest first (time, then id), from just before `cursor`; filtered by email or externalId. */
export async function listUsers(
  deps: Deps,
  query: { email?: string | undefined; externalId?: string | undefined; limit: number; cursor?: EventPosition | undefined },
) {
  let select = usersWithCount(deps.db);
  if (query.email !== undefined) select = select.where('users.email', '=', query.email);
  if (query.externalId !== undefined) select = select.where('users.external_id', '=', query.externalId);
  const { cursor } = query;
  if (cursor) {
    select = select.where((eb) =>
      eb.or([eb('users.created_at', '<', cursor.at), eb.and([eb('users.created_at', '=', cursor.at), eb('users.id', '<', cursor.id)])]),
    );
  }
  const rows = (await select
    .orderBy('users.created_at', 'desc')
    .orderBy('users.id', 'desc')
    .limit(query.limit + 1)
    .execute()) as UserWithCount[];
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return { users: page.map(toUserJSON), next: rows.length > query.limit && last ? { at: last.created_at, id: last.id } : undefined };
}

export async function updateUser(
  deps: Deps,
  id: string,
  input: { displayName?: string | undefined; externalId?: string | null | undefined; emailVerified?: boolean | undefined },
  context: AdminContext,
): Promise<UserJSON> {
  const now = deps.now().toISOString();
  const hooks = await deps.db
    .transaction()
    .execute(async (trx) => {
      const user = await holdUser(trx, id);
      const changes: Partial<UsersTable> = {};
      if (input.displayName !== undefined) changes.display_name = input.displayName;
      if (input.externalId !== undefined) {
        const holder = input.externalId && (await findUserByExternalId(trx, input.externalId));
        if (holder && holder.id !== id) throw externalIdExists();
        changes.external_id = input.externalId;
      }
      if (input.emailVerified !== undefined) {
        changes.email_verified_at = input.emailVerified ? (user.email_verified_at ?? now) : null;
        // A vouched-for email has nothing left to prove.
        if (input.emailVerified) await trx.deleteFrom('email_codes').where('user_id', '=', id).where('purpose', '=', 'verify').execute();
      }
      const fields = Object.keys(input).filter((key) => input[key as keyof typeof input] !== undefined);
      if (fields.length === 0) return 0;
      await trx.updateTable('users').set(changes).where('id', '=', id).execute();
      await insertAuditEvent(trx, event(deps, context, id, { type: 'user.updated', detail: fields.join(', ') }));
      const newlyVerified = input.emailVerified === true && user.email_verified_at === null;
      return queueWebhookEvents(trx, deps, newlyVerified ? [{ type: 'user.email_verified', data: { userId: id } }] : []);
    })
    .catch(async (error: unknown) => {
      throw isUniqueViolation(error) ? await whichTaken(deps, error, undefined, input.externalId) : error;
    });
  notifyWebhooks(deps, hooks);
  return findUser(deps.db, id);
}

/** Removes every row about the user at once; one `user.deleted` event remains. */
export async function deleteUser(deps: Deps, id: string, context: AdminContext): Promise<void> {
  const hooks = await deps.db.transaction().execute(async (trx) => {
    await lockUser(trx, id);
    await trx.deleteFrom('audit_events').where('user_id', '=', id).execute();
    // Passkeys, sessions, challenges, codes and tickets go with the row (ON DELETE CASCADE).
    const deleted = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    if (deleted.numDeletedRows !== 1n) throw notFound();
    await insertAuditEvent(trx, event(deps, context, id, { type: 'user.deleted' }));
    return queueWebhookEvent(trx, deps, 'user.deleted', { userId: id });
  });
  notifyWebhooks(deps, hooks);
}

export async function listUserPasskeys(deps: Deps, id: string): Promise<CredentialJSON[]> {
  await findUser(deps.db, id);
  return (await listCredentialsByUser(deps.db, id)).map(toCredentialJSON);
}

/** Removes a passkey (the last one too) and ends the sessions it opened. */
export async function deleteUserPasskey(deps: Deps, id: string, credentialId: string, context: AdminContext): Promise<void> {
  const hooks = await deps.db.transaction().execute(async (trx) => {
    if (!(await deleteCredential(trx, id, credentialId))) throw new AppError('not_found', 'No such passkey on this user');
    const ended = await revokeSessionsOfCredential(trx, credentialId, '', deps.now().toISOString());
    await insertAuditEvent(trx, event(deps, context, id, { type: 'passkey.deleted', credential_id: credentialId }));
    return queueWebhookEvents(trx, deps, [{ type: 'passkey.deleted', data: { userId: id, credentialId } }, ...sessionsRevoked(id, ended)]);
  });
  notifyWebhooks(deps, hooks);
}

/** Ends every live session of the user. */
export async function revokeUserSessions(deps: Deps, id: string, context: AdminContext): Promise<void> {
  const now = deps.now().toISOString();
  const hooks = await deps.db.transaction().execute(async (trx) => {
    await holdUser(trx, id);
    const ended = await revokeSessionsOfUser(trx, id, now);
    await insertAuditEvent(trx, event(deps, context, id, { type: 'sessions.revoked', detail: `${ended.length} sessions` }));
    return queueWebhookEvents(trx, deps, sessionsRevoked(id, ended));
  });
  notifyWebhooks(deps, hooks);
}

const ticketHash = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/** A single-use ticket that lets a browser add a passkey to the user without signing in. */
export async function createEnrollment(deps: Deps, id: string, ttlSeconds: number, context: AdminContext) {
  const ticket = randomBytes(32).toString('base64url');
  const now = deps.now();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
  await deps.db.transaction().execute(async (trx) => {
    await holdUser(trx, id);
    await trx
      .insertInto('enrollment_tickets')
      .values({ ticket_hash: ticketHash(ticket), user_id: id, created_by: context.key, expires_at: expiresAt, created_at: now.toISOString() })
      .execute();
    await insertAuditEvent(trx, event(deps, context, id, { type: 'enrollment.created', detail: `expires ${expiresAt}` }));
  });
  return { ticket, expiresAt };
}

const invalidTicket = (reason: string) => new AppError('invalid_ticket', 'This enrolment link is used, expired or unknown: ask for a new one', { reason });

/**
 * POST /v1/challenges { ticket }: uses the ticket up and answers a registration challenge
 * for its user, finished by PUT /v1/challenges (which signs the person in).
 */
export async function startEnrollment(deps: Deps, ticket: string): Promise<StartedCeremony<PublicKeyCredentialCreationOptionsJSON>> {
  return deps.db.transaction().execute(async (trx) => {
    const used = await trx.deleteFrom('enrollment_tickets').where('ticket_hash', '=', ticketHash(ticket)).returningAll().executeTakeFirst();
    if (!used) throw invalidTicket('unknown or used');
    if (used.expires_at <= deps.now().toISOString()) throw invalidTicket('expired');
    const user = await findUserById(trx, used.user_id);
    if (!user) throw invalidTicket('the user was deleted');
    const existing = await listCredentialsByUser(trx, user.id);
    const options = await creationOptions(deps, { email: user.email, displayName: user.display_name, userHandle: user.user_handle }, existing);
    const challenge = newChallenge(deps, { kind: 'registration', challenge: options.challenge, user_id: user.id, via: 'ticket' });
    await insertChallenge(trx, challenge);
    return { challengeId: challenge.id, options };
  });
}

/** Events of every user, newest first; `actor` says when an admin key acted. */
export async function listAdminEvents(
  deps: Deps,
  query: { userId?: string | undefined; type?: string | undefined; limit: number; before?: EventPosition | undefined },
) {
  const rows = await listAuditEvents(deps.db, query, query.limit + 1, query.before);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    events: page.map((row) => ({
      userId: row.user_id,
      type: row.type,
      at: row.created_at,
      credentialId: row.credential_id,
      detail: row.detail,
      ip: row.ip,
      actor: row.actor,
    })),
    next: rows.length > query.limit && last ? { at: last.created_at, id: last.id } : undefined,
  };
}
