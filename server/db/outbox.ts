// The outbox: what a committed change promised to deliver (an email, a webhook), written
// in the change's own transaction, then delivered by a worker (server/outbox.ts).
// A row is claimed with a lease: only the claim's holder may settle it, and a row
// whose holder died is claimed again once its lease runs out, so every row is
// delivered at least once whatever crashes. Rows that share a `key` (a webhook
// endpoint) are claimed one at a time: a slow or failing receiver holds one slot only.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Db, OutboxTable } from './schema.js';

export interface NewOutboxMessage {
  topic: string;
  payload: unknown;
  key?: string | null;
}

/** Queues deliveries, in one statement; call it inside the transaction of the change that promises them. */
export async function insertOutboxMessages(db: Db, messages: NewOutboxMessage[], now: string): Promise<void> {
  if (messages.length === 0) return;
  await db
    .insertInto('outbox')
    .values(
      messages.map((message) => ({
        id: uuidv7(),
        topic: message.topic,
        key: message.key ?? null,
        payload: JSON.stringify(message.payload),
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        lease_id: null,
        lease_until: null,
        last_error: null,
        created_at: now,
        done_at: null,
      })),
    )
    .execute();
}

/** Queues one delivery of `topic`; call it inside the transaction of the change that promises it. */
export async function insertOutboxMessage(db: Db, topic: string, payload: unknown, now: string): Promise<void> {
  await insertOutboxMessages(db, [{ topic, payload }], now);
}

export type ClaimedMessage = Pick<OutboxTable, 'id' | 'topic' | 'key' | 'payload' | 'attempts' | 'created_at'> & { lease_id: string };

/**
 * Claims up to `limit` due rows for `leaseSeconds`, oldest first, at most `perKey` of one key
 * in flight (counting those being delivered already; keyless rows have no bound), in one
 * UPDATE that checks each row's lease again, so of several workers (instances) each row goes
 * to one. The rows are picked by a read first, so that an idle poll writes nothing (no lock, no fsync).
 */
// How many of the oldest due rows one claim looks at: enough to fill every slot even when a
// few keys are at their bound, few enough that a backlog of millions costs the same.
const candidates = 512;

export async function claimDueMessages(db: Db, now: Date, leaseSeconds: number, limit: number, perKey: number): Promise<ClaimedMessage[]> {
  const at = now.toISOString();
  const leaseId = randomUUID();
  const leaseUntil = new Date(now.getTime() + leaseSeconds * 1000).toISOString();
  // Among the oldest due rows (a bounded read, whatever the backlog), each one's place in
  // its key's queue, after the rows of that key in flight.
  const picked = await sql<{ id: string }>`select ranked.id from (
      select o.id, o.next_attempt_at,
        row_number() over (partition by coalesce(o.key, o.id) order by o.id) + coalesce(b.busy, 0) as place
      from (
        select id, key, next_attempt_at from outbox
        where status = 'pending' and next_attempt_at <= ${at} and (lease_until is null or lease_until <= ${at})
        order by next_attempt_at
        limit ${candidates}
      ) o
      left join (
        select key, count(*) as busy from outbox
        where lease_until > ${at} and status = 'pending' and key is not null
        group by key
      ) b on b.key = o.key
    ) ranked
    where ranked.place <= ${perKey}
    order by ranked.next_attempt_at
    limit ${limit}`.execute(db);
  if (picked.rows.length === 0) return [];
  const rows = await db
    .updateTable('outbox')
    .set((eb) => ({ lease_id: leaseId, lease_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
    .where(
      'id',
      'in',
      picked.rows.map((row) => row.id),
    )
    // Checked again on the row itself: a concurrent claim that won it changed these.
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
    .returning(['id', 'topic', 'key', 'payload', 'attempts', 'created_at', 'lease_id'])
    .execute();
  return rows as ClaimedMessage[];
}

// An email's body may hold a code: it goes as soon as the row is settled. Other payloads
// (a webhook's event: no secret in it) stay, so that a failed delivery can be sent again.
const settledPayload = (message: ClaimedMessage) => (message.topic === 'email' ? '' : message.payload);

/**
 * Delivered, in one statement for rows of one claim (an email's payload erased). Returns the
 * ids marked: a row whose lease was lost (another worker has it now) is not among them.
 */
export async function markDelivered(db: Db, messages: ClaimedMessage[], now: string): Promise<string[]> {
  if (messages.length === 0) return [];
  const rows = await db
    .updateTable('outbox')
    .set({
      status: 'sent',
      payload: sql<string>`case when topic = 'email' then '' else payload end`,
      done_at: now,
      lease_id: null,
      lease_until: null,
      last_error: null,
    })
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

/** Not delivered: try again at `nextAttemptAt`, or never (`failed`). */
export async function markUndelivered(
  db: Db,
  message: ClaimedMessage,
  outcome: { error: string; nextAttemptAt?: string | undefined; now: string },
): Promise<void> {
  const failed = outcome.nextAttemptAt === undefined;
  await db
    .updateTable('outbox')
    .set({
      status: failed ? 'failed' : 'pending',
      next_attempt_at: outcome.nextAttemptAt ?? outcome.now,
      payload: failed ? settledPayload(message) : message.payload,
      done_at: failed ? outcome.now : null,
      lease_id: null,
      lease_until: null,
      last_error: outcome.error.slice(0, 500),
    })
    .where('id', '=', message.id)
    .where('lease_id', '=', message.lease_id)
    .execute();
}

/** A failed row of `key` due again now, with a fresh retry window. False if there is no such row. */
export async function retryFailed(db: Db, key: string, id: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, created_at: now, done_at: null, last_error: null })
    .where('id', '=', id)
    .where('key', '=', key)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
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
