import type { Db } from './schema.js';

// Rows go in batches, each its own statement, with the event loop free in between:
// better-sqlite3 runs a statement synchronously, so one DELETE of a million expired
// sessions would stop every request until it was done.
const batchSize = 1000;

async function inBatches(deleteBatch: () => Promise<bigint>): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = Number(await deleteBatch());
    total += deleted;
    if (deleted < batchSize) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Deletes rows that can no longer matter: expired challenges, sessions, email codes and enrolment tickets,
 * old audit events, and outbox rows settled (sent or failed) before `outboxBefore`.
 */
export async function deleteExpired(db: Db, now: string, auditBefore: string, outboxBefore: string) {
  const challenges = await inBatches(async () => {
    const expired = db.selectFrom('challenges').select('id').where('expires_at', '<=', now).limit(batchSize);
    return (await db.deleteFrom('challenges').where('id', 'in', expired).executeTakeFirst()).numDeletedRows;
  });
  // An expired token is dead whether or not it was revoked: its session row can go.
  const sessions = await inBatches(async () => {
    const expired = db.selectFrom('sessions').select('jti').where('expires_at', '<=', now).limit(batchSize);
    return (await db.deleteFrom('sessions').where('jti', 'in', expired).executeTakeFirst()).numDeletedRows;
  });
  const auditEvents = await inBatches(async () => {
    const old = db.selectFrom('audit_events').select('id').where('created_at', '<', auditBefore).limit(batchSize);
    return (await db.deleteFrom('audit_events').where('id', 'in', old).executeTakeFirst()).numDeletedRows;
  });
  const emailCodes = await inBatches(async () => {
    const expired = db.selectFrom('email_codes').select('id').where('expires_at', '<=', now).limit(batchSize);
    return (await db.deleteFrom('email_codes').where('id', 'in', expired).executeTakeFirst()).numDeletedRows;
  });
  const enrollmentTickets = await inBatches(async () => {
    const expired = db.selectFrom('enrollment_tickets').select('ticket_hash').where('expires_at', '<=', now).limit(batchSize);
    return (await db.deleteFrom('enrollment_tickets').where('ticket_hash', 'in', expired).executeTakeFirst()).numDeletedRows;
  });
  const outbox = await inBatches(async () => {
    const settled = db.selectFrom('outbox').select('id').where('done_at', '<', outboxBefore).limit(batchSize);
    return (await db.deleteFrom('outbox').where('id', 'in', settled).executeTakeFirst()).numDeletedRows;
  });
  return { challenges, sessions, auditEvents, emailCodes, enrollmentTickets, outbox };
}
