// The signed-in user's own account: profile, passkeys and sessions. Every query is
// scoped by the user id from the verified token, so another user's passkey or
// session is simply not found (404), never "forbidden". An account always keeps one
// passkey, and deleting one needs a recent passkey proof (requireRecentAuth).
import type { Deps, RequestContext } from './deps.js';
import { auditEnvelope, insertAuditEvent, listAuditEventsByUser, type EventPosition } from './db/audit-events.js';
import { listLiveSessions, revokeOtherSessions, revokeSessionOfUser, revokeSessionsOfCredential } from './db/sessions.js';
import { deleteCredential, findCredentialById, listCredentialsByUser, renameCredential } from './db/credentials.js';
import { lockUser, requireUser } from './db/users.js';
import { AppError } from './errors.js';
import { toCredentialJSON, type CredentialJSON } from './ceremonies/credential-json.js';
import { requireRecentAuth, type SessionClaims } from './tokens/session-tokens.js';
import { notifyWebhooks, queueWebhookEvent, queueWebhookEvents, sessionsRevoked } from './webhooks/events.js';

export async function getProfile(deps: Deps, userId: string) {
  const user = await requireUser(deps.db, userId);
  return { userId: user.id, email: user.email, emailVerified: user.email_verified_at !== null, displayName: user.display_name, createdAt: user.created_at };
}

export async function listPasskeys(deps: Deps, userId: string): Promise<CredentialJSON[]> {
  return (await listCredentialsByUser(deps.db, userId)).map(toCredentialJSON);
}

const notFound = () => new AppError('not_found', 'No such passkey on this account');

const audit = (deps: Deps, context: RequestContext, userId: string) => auditEnvelope(userId, context, deps.now().toISOString());

export async function renamePasskey(deps: Deps, userId: string, id: string, name: string, context: RequestContext = {}): Promise<CredentialJSON> {
  const { renamed, hooks } = await deps.db.transaction().execute(async (trx) => {
    if (!(await renameCredential(trx, userId, id, name))) throw notFound();
    await insertAuditEvent(trx, { ...audit(deps, context, userId), type: 'passkey.renamed', credential_id: id, detail: name });
    const hooks = await queueWebhookEvent(trx, deps, 'passkey.renamed', { userId, credentialId: id });
    return { renamed: toCredentialJSON((await findCredentialById(trx, id))!), hooks };
  });
  notifyWebhooks(deps, hooks);
  return renamed;
}

/**
 * Deletes a passkey and ends the sessions it opened (a stolen passkey's sessions
 * die with it), except the caller's own session.
 */
export async function deletePasskey(deps: Deps, session: SessionClaims, id: string, context: RequestContext = {}): Promise<void> {
  requireRecentAuth(deps, session);
  const { sub: userId, jti: currentJti } = session;
  const hooks = await deps.db.transaction().execute(async (trx) => {
    // Serialise deletions per account, so two concurrent deletes cannot both pass the guard.
    await lockUser(trx, userId);
    const passkeys = await listCredentialsByUser(trx, userId);
    if (!passkeys.some((passkey) => passkey.id === id)) throw notFound();
    if (passkeys.length <= 1) throw new AppError('last_credential', 'This is the only passkey of the account: add another before deleting it');
    await deleteCredential(trx, userId, id);
    const ended = await revokeSessionsOfCredential(trx, id, currentJti, deps.now().toISOString());
    await insertAuditEvent(trx, { ...audit(deps, context, userId), type: 'passkey.deleted', credential_id: id });
    return queueWebhookEvents(trx, deps, [{ type: 'passkey.deleted', data: { userId, credentialId: id } }, ...sessionsRevoked(userId, ended)]);
  });
  notifyWebhooks(deps, hooks);
}

export interface AuditEventJSON {
  type: string;
  at: string;
  credentialId: string | null;
  detail: string | null;
  ip: string | null;
}

/** A page of the account's audit events, newest first, and where the next page starts if there is one. */
export async function listEvents(deps: Deps, userId: string, { limit, before }: { limit: number; before?: EventPosition | undefined }) {
  const rows = await listAuditEventsByUser(deps.db, userId, limit + 1, before);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    events: page.map((row): AuditEventJSON => ({ type: row.type, at: row.created_at, credentialId: row.credential_id, detail: row.detail, ip: row.ip })),
    next: rows.length > limit && last ? { at: last.created_at, id: last.id } : undefined,
  };
}

export interface SessionJSON {
  id: string;
  createdAt: string;
  expiresAt: string;
  authTime: string;
  credentialId: string | null;
  ip: string | null;
  current: boolean;
}

/** The account's live sessions, newest first; `current` marks the caller's. */
export async function listSessions(deps: Deps, session: SessionClaims): Promise<SessionJSON[]> {
  const rows = await listLiveSessions(deps.db, session.sub, deps.now().toISOString());
  return rows.map((row) => ({
    id: row.jti,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    authTime: row.auth_time,
    credentialId: row.credential_id,
    ip: row.ip,
    current: row.jti === session.jti,
  }));
}

/** Ends one live session of the account (the caller's own included). */
export async function endSession(deps: Deps, session: SessionClaims, id: string, context: RequestContext = {}): Promise<void> {
  const hooks = await deps.db.transaction().execute(async (trx) => {
    const event = audit(deps, context, session.sub);
    if (!(await revokeSessionOfUser(trx, session.sub, id, event.created_at))) throw new AppError('not_found', 'No such session on this account');
    await insertAuditEvent(trx, { ...event, type: 'session.revoked', detail: id });
    return queueWebhookEvents(trx, deps, sessionsRevoked(session.sub, [id]));
  });
  notifyWebhooks(deps, hooks);
}

/** "Sign out everywhere else": ends every live session of the account but the caller's, in one statement. */
export async function endOtherSessions(deps: Deps, session: SessionClaims, context: RequestContext = {}): Promise<void> {
  const hooks = await deps.db.transaction().execute(async (trx) => {
    const event = audit(deps, context, session.sub);
    const ended = await revokeOtherSessions(trx, session.sub, session.jti, event.created_at);
    for (const jti of ended) await insertAuditEvent(trx, { ...event, type: 'session.revoked', detail: jti });
    return queueWebhookEvents(trx, deps, sessionsRevoked(session.sub, ended));
  });
  notifyWebhooks(deps, hooks);
}
