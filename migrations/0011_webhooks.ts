import type { Kysely } from 'kysely';

// Webhooks: the endpoints a site registered, each with its signing secret (and the one it
// replaced, still signing during a rotation's overlap); and a key on outbox rows, so that
// one endpoint's deliveries go one at a time and a failing endpoint holds up no other.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('events', 'text', (col) => col.notNull())
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('previous_secret', 'text')
    .addColumn('previous_secret_until', 'text')
    .addColumn('created_by', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.alterTable('outbox').addColumn('key', 'text').execute();
  await db.schema.createIndex('outbox_key').on('outbox').columns(['key', 'created_at']).execute();
  // The rows being delivered now: a claim counts them per key.
  await db.schema.createIndex('outbox_lease_until').on('outbox').column('lease_until').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('outbox_lease_until').execute();
  await db.schema.dropIndex('outbox_key').execute();
  await db.schema.alterTable('outbox').dropColumn('key').execute();
  await db.schema.dropTable('webhook_endpoints').execute();
}
