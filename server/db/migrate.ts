// Brings a database's schema up to date with the frozen migrations, on either engine.
import { Migrator, PostgresAdapter, sql, type MigrationProvider } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { Db } from './schema.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies pending migrations. Concurrent callers on PostgreSQL wait for each other (an advisory lock). */
export async function migrate(db: Db): Promise<string[]> {
  // On PostgreSQL the bookkeeping lives in the current schema, so deployments can share a database in separate schemas.
  const migrationTableSchema =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({ db, provider, migrationTableSchema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
