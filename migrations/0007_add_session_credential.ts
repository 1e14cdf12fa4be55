import type { Kysely } from 'kysely';

// Which passkey opened a session, so that deleting a passkey ends its sessions;
// and which session started an add-passkey ceremony, so that signing out stops it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('credential_id', 'text').execute();
  await db.schema.createIndex('sessions_credential_id').on('sessions').column('credential_id').execute();
  await db.schema.alterTable('challenges').addColumn('session_jti', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('challenges').dropColumn('session_jti').execute();
  await db.schema.dropIndex('sessions_credential_id').execute();
  await db.schema.alterTable('sessions').dropColumn('credential_id').execute();
}
