import { randomUUID } from 'node:crypto';
import type { AuditEventsTable, Db } from './schema.js';

export type NewAuditEvent = Omit<AuditEventsTable, 'id' | 'credential_id' | 'detail' | 'ip'> &
  Partial<Pick<AuditEventsTable, 'credential_id' | 'detail' | 'ip'>>;

// Details can echo what a client sent (a library's error message quoting it):
// printable ASCII only, and short, so nobody can stuff the trail.
const clean = (detail: string | null | undefined) => (detail ? detail.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : null);

export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({ id: randomUUID(), credential_id: null, ip: null, ...event, detail: clean(event.detail) })
    .execute();
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
