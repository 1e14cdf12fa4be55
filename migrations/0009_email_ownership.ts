import type { Kysely } from 'kysely';

// Email ownership: when the account's email was proven, the one-time codes sent to
// it, the registrations a proof (recovery) grants, and the outbox that delivers what
// a request promised (emails now, webhooks later) at least once.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('email_verified_at', 'text').execute();
  // A registration for an existing account that no session started: 'recovery'.
  await db.schema.alterTable('challenges').addColumn('via', 'text').execute();

  await db.schema
    .createTable('email_codes')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('purpose', 'text', (col) => col.notNull())
    .addColumn('user_id', 'text', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('email_key', 'text', (col) => col.notNull())
    .addColumn('code_hash', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('email_codes_email_key').on('email_codes').columns(['email_key', 'purpose']).execute();
  await db.schema.createIndex('email_codes_user_id').on('email_codes').column('user_id').execute();
  await db.schema.createIndex('email_codes_expires_at').on('email_codes').column('expires_at').execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('topic', 'text', (col) => col.notNull())
    .addColumn('payload', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (col) => col.notNull())
    .addColumn('lease_id', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('done_at', 'text')
    .execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('outbox_done_at').on('outbox').column('done_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbox').execute();
  await db.schema.dropTable('email_codes').execute();
  await db.schema.alterTable('challenges').dropColumn('via').execute();
  await db.schema.alterTable('users').dropColumn('email_verified_at').execute();
}
