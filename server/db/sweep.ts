import type { Db } from './schema.js';

/** Deletes rows that can no longer matter: expired challenges and sessions, old audit events. */
export async function deleteExpired(db: Db, now: string, auditBefore: string) {
  const challenges = await db.deleteFrom('challenges').where('expires_at', '<=', now).executeTakeFirst();
  // An expired token is dead whether or not it was revoked: its session row can go.
  const sessions = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
  const events = await db.deleteFrom('audit_events').where('created_at', '<', auditBefore).executeTakeFirst();
  return {
    challenges: Number(challenges.numDeletedRows),
    sessions: Number(sessions.numDeletedRows),
    auditEvents: Number(events.numDeletedRows),
  };
}
