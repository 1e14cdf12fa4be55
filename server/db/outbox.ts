// The outbox: what a committed change promised to deliver (an email), written in
// the change's own transaction, then delivered by a worker (server/outbox.ts).
// A row is claimed with a lease: only the claim's holder may settle it, and a row
// whose holder died is claimed again once its lease runs out, so every row is
// delivered at least once whatever crashes.
import { randomUUID } from 'node:crypto';
import { PostgresAdapter } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Db, OutboxTable } from './schema.js';

/** Queues one delivery of `topic`; call it inside the transaction of the change that promises it. */
export async function insertOutboxMessage(db: Db, topic: string, payload: unknown, now: string): Promise<string> {
  const id = uuidv7();
  await db
    .insertInto('outbox')
    .values({
      id,
      topic,
      payload: JSON.stringify(payload),
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      lease_id: null,
      lease_until: null,
      last_error: null,
      created_at: now,
      done_at: null,
    })
    .execute();
  return id;
}

export type ClaimedMessage = Pick<OutboxTable, 'id' | 'topic' | 'payload' | 'attempts' | 'created_at' | 'lease_id'> & { lease_id: string };

/**
 * Claims up to `limit` due rows for `leaseSeconds`: one UPDATE, so of several workers
 * (instances) each row goes to one. PostgreSQL skips rows another worker is claiming
 * (FOR UPDATE SKIP LOCKED); SQLite has one writer at a time. A read comes first, so
 * that an idle poll writes nothing (no lock, no fsync).
 */
export async function claimDueMessages(db: Db, now: Date, leaseSeconds: number, limit: number): Promise<ClaimedMessage[]> {
  const at = now.toISOString();
  const leaseId = randomUUID();
  const leaseUntil = new Date(now.getTime() + leaseSeconds * 1000).toISOString();
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const dueRows = () =>
    db
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', at)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
      .orderBy('next_attempt_at')
      .limit(limit);
  if (!(await dueRows().executeTakeFirst())) return [];
  let due = dueRows();
  if (postgres) due = due.forUpdate().skipLocked();
  const rows = await db
    .updateTable('outbox')
    .set((eb) => ({ lease_id: leaseId, lease_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', due)
    // Checked again on the row itself: a concurrent claim that won it changed these.
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
    .returning(['id', 'topic', 'payload', 'attempts', 'created_at', 'lease_id'])
    .execute();
  return rows as ClaimedMessage[];
}

/**
 * Delivered, in one statement for the rows of one claim: their payloads (which may hold
 * a code) are erased. Returns the ids marked; a row whose lease was lost is not among them.
 */
export async function markDelivered(db: Db, messages: ClaimedMessage[], now: string): Promise<string[]> {
  if (messages.length === 0) return [];
  const rows = await db
    .updateTable('outbox')
    .set({ status: 'sent', payload: '', done_at: now, lease_id: null, lease_until: null, last_error: null })
    .where(
      'id',
      'in',
      messages.map((message) => message.id),
    )
    .where('lease_id', '=', messages[0]!.lease_id)
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Not delivered: try again at `nextAttemptAt`, or never (`failed`, payload erased). */
export async function markUndelivered(db: Db, message: ClaimedMessage, outcome: { error: string; nextAttemptAt?: string; now: string }): Promise<void> {
  const failed = outcome.nextAttemptAt === undefined;
  await db
    .updateTable('outbox')
    .set({
      status: failed ? 'failed' : 'pending',
      next_attempt_at: outcome.nextAttemptAt ?? outcome.now,
      payload: failed ? '' : message.payload,
      done_at: failed ? outcome.now : null,
      lease_id: null,
      lease_until: null,
      last_error: outcome.error.slice(0, 500),
    })
    .where('id', '=', message.id)
    .where('lease_id', '=', message.lease_id)
    .execute();
}

/** When the oldest undelivered row of each topic was queued. */
export async function oldestPending(db: Db) {
  return db
    .selectFrom('outbox')
    .select(['topic', (eb) => eb.fn.min('created_at').as('oldest')])
    .where('status', '=', 'pending')
    .groupBy('topic')
    .execute();
}
