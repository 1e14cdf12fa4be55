import { randomUUID } from 'node:crypto';
import { prepare } from './prepared.js';
import type { AuditEventsTable, Db } from './schema.js';

export type NewAuditEvent = Omit<AuditEventsTable, 'id' | 'credential_id' | 'detail' | 'ip'> &
  Partial<Pick<AuditEventsTable, 'credential_id' | 'detail' | 'ip'>>;

// Details can echo what a client sent (a library's error message quoting it): no
// control, formatting (bidi) or lone surrogate characters, and at most 200 characters,
// so nobody can stuff the trail or disguise a line of it. A passkey's name keeps its accents.
const clean = (detail: string | null | undefined) =>
  detail ? Array.from(detail.replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, '?')).slice(0, 200).join('') : null;

// Prepared (compiled once, see prepared.ts): every sign-in writes one.
const insert = prepare((db, e: AuditEventsTable) =>
  db.insertInto('audit_events').values({
    id: e.id,
    user_id: e.user_id,
    type: e.type,
    credential_id: e.credential_id,
    detail: e.detail,
    ip: e.ip,
    created_at: e.created_at,
  }),
);

export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<void> {
  await insert(db, { id: randomUUID(), credential_id: null, ip: null, ...event, detail: clean(event.detail) });
}

export function listAuditEventsByUser(db: Db, userId: string, limit: number) {
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}
