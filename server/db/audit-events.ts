import { isIP } from 'node:net';
import { uuidv7 } from 'uuidv7';
import { prepare, type EveryColumn } from './prepared.js';
import { lockUser } from './users.js';
import type { AuditEventsTable, Db } from './schema.js';

export type NewAuditEvent = Omit<AuditEventsTable, 'id' | 'credential_id' | 'detail' | 'ip' | 'actor'> &
  Partial<Pick<AuditEventsTable, 'credential_id' | 'detail' | 'ip' | 'actor'>>;

/** What every event a request records shares: whose account, from which address, when. */
export type AuditEnvelope = Pick<NewAuditEvent, 'user_id' | 'ip' | 'created_at'>;

export function auditEnvelope(userId: string, context: { ip?: string | undefined }, createdAt: string): AuditEnvelope {
  return { user_id: userId, ip: context.ip ?? null, created_at: createdAt };
}

// Details can echo what a client sent (a library's error message quoting it): no
// control, formatting (bidi) or lone surrogate characters, and at most 200 characters,
// so nobody can stuff the trail or disguise a line of it. A passkey's name keeps its accents.
const clean = (detail: string | null | undefined) =>
  detail
    ? Array.from(detail.replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, '?'))
        .slice(0, 200)
        .join('')
    : null;

// Prepared (compiled once, see prepared.ts): every sign-in writes one.
const insert = prepare((db, e: AuditEventsTable) =>
  db.insertInto('audit_events').values({
    id: e.id,
    user_id: e.user_id,
    type: e.type,
    credential_id: e.credential_id,
    detail: e.detail,
    ip: e.ip,
    actor: e.actor,
    created_at: e.created_at,
  } satisfies EveryColumn<AuditEventsTable>),
);

// Ids are UUIDv7 (RFC 9562), which grow with each event this process records: events
// written at the same instant (account.created and passkey.created, in one
// transaction) still list in the order they happened. `ip` is kept only when it is an
// IP address: whatever else a request carries there is not the trail's to store.
export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<void> {
  const ip = event.ip && isIP(event.ip) !== 0 ? event.ip : null;
  await insert(db, { id: uuidv7(), credential_id: null, actor: null, ...event, ip, detail: clean(event.detail) });
}

/** At most this many unsigned `sign_in.failed` per account in any hour reach the trail. */
export const FAILED_SIGN_INS_PER_HOUR = 10;

/**
 * Records a failed sign-in whose assertion was not signed by the passkey, unless
 * the account already has FAILED_SIGN_INS_PER_HOUR failed sign-ins in the hour before
 * it: anyone who knows a passkey's id (it is not secret) can fail to sign in with it,
 * and must not bury the owner's trail. The count and the insert
 * hold the account's row, so concurrent failures cannot all pass the count.
 */
export function insertUnsignedFailedSignIn(db: Db, event: NewAuditEvent): Promise<boolean> {
  const hourBefore = new Date(Date.parse(event.created_at) - 3_600_000).toISOString();
  return db.transaction().execute(async (trx) => {
    await lockUser(trx, event.user_id);
    const { recent } = await trx
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('recent'))
      .where('user_id', '=', event.user_id)
      .where('type', '=', 'sign_in.failed')
      .where('created_at', '>', hourBefore)
      .executeTakeFirstOrThrow();
    if (Number(recent) >= FAILED_SIGN_INS_PER_HOUR) return false;
    await insertAuditEvent(trx, event);
    return true;
  });
}

/** Where an event stands in an account's trail: newest first, by time, then id. */
export interface EventPosition {
  at: string;
  id: string;
}

/** The account's events, newest first, from just before `before`. */
export function listAuditEventsByUser(db: Db, userId: string, limit: number, before?: EventPosition) {
  return listAuditEvents(db, { userId }, limit, before);
}

/** Events of every account (or of `userId`, of `type`), newest first, from just before `before`. */
export function listAuditEvents(db: Db, filter: { userId?: string | undefined; type?: string | undefined }, limit: number, before?: EventPosition) {
  let query = db.selectFrom('audit_events').selectAll();
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.type !== undefined) query = query.where('type', '=', filter.type as AuditEventsTable['type']);
  if (before) {
    query = query.where((eb) => eb.or([eb('created_at', '<', before.at), eb.and([eb('created_at', '=', before.at), eb('id', '<', before.id)])]));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}
