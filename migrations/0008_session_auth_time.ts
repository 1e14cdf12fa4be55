import { sql, type Kysely } from 'kysely';

// When the person last proved a passkey in each session (re-authentication before
// account changes), and the address it was opened from (the session list).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('auth_time', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('ip', 'text').execute();
  await db.updateTable('sessions').set({ auth_time: sql`created_at` }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('ip').execute();
  await db.schema.alterTable('sessions').dropColumn('auth_time').execute();
}
