import { randomUUID } from 'node:crypto';
import type { AuditEventsTable, Db } from './schema.js';

export type NewAuditEvent = Omit<AuditEventsTable, 'id' | 'credential_id' | 'detail' | 'ip'> &
  Partial<Pick<AuditEventsTable, 'credential_id' | 'detail' | 'ip'>>;

export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({ id: randomUUID(), credential_id: null, detail: null, ip: null, ...event })
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
