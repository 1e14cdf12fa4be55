import { sql, type Kysely } from 'kysely';

// The admin API: the site's own id for a user (unique), enrolment tickets, and an audit
// trail that names who acted (`actor`: an admin key's fingerprint) and outlives a deleted
// user by one event (so audit_events no longer references users; rows are rebuilt as they are).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('external_id', 'text').execute();
  await db.schema.createIndex('users_external_id').on('users').column('external_id').unique().execute();
  await db.schema.createIndex('users_created_at_id').on('users').columns(['created_at', 'id']).execute();

  await db.schema
    .createTable('enrollment_tickets')
    .addColumn('ticket_hash', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_by', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('enrollment_tickets_user_id').on('enrollment_tickets').column('user_id').execute();
  await db.schema.createIndex('enrollment_tickets_expires_at').on('enrollment_tickets').column('expires_at').execute();

  await db.schema
    .createTable('audit_events_next')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('credential_id', 'text')
    .addColumn('detail', 'text')
    .addColumn('ip', 'text')
    .addColumn('actor', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  await sql`insert into audit_events_next (id, user_id, type, credential_id, detail, ip, actor, created_at)
    select id, user_id, type, credential_id, detail, ip, null, created_at from audit_events`.execute(db);
  await db.schema.dropTable('audit_events').execute();
  await db.schema.alterTable('audit_events_next').renameTo('audit_events').execute();
  await db.schema.createIndex('audit_events_user_id_created_at').on('audit_events').columns(['user_id', 'created_at']).execute();
  await db.schema.createIndex('audit_events_created_at').on('audit_events').column('created_at').execute();
  await db.schema.createIndex('audit_events_type_created_at').on('audit_events').columns(['type', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_type_created_at').execute();
  await db.schema.alterTable('audit_events').dropColumn('actor').execute();
  await db.schema.dropTable('enrollment_tickets').execute();
  await db.schema.dropIndex('users_created_at_id').execute();
  await db.schema.dropIndex('users_external_id').execute();
  await db.schema.alterTable('users').dropColumn('external_id').execute();
}
