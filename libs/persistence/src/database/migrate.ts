import type { DataSource } from 'typeorm';

/** Key of the advisory lock that serialises migrations across instances starting together. */
const MIGRATION_LOCK = 7_163_800_001;

export interface MigrationResult {
  applied: string[];
}

/** Applies pending migrations while holding a cluster-wide advisory lock (several instances may start at once). */
export async function migrateDatabase(dataSource: DataSource): Promise<MigrationResult> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return { applied: applied.map((m) => m.name) };
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

export async function revertLastMigration(dataSource: DataSource): Promise<string | null> {
  const before = await dataSource.query(`SELECT name FROM typeorm_migrations ORDER BY id DESC LIMIT 1`).catch(() => []);
  if ((before as unknown[]).length === 0) return null;
  await dataSource.undoLastMigration({ transaction: 'each' });
  return (before as { name: string }[])[0].name;
}

/** Names of migrations not yet applied. */
export async function pendingMigrationNames(dataSource: DataSource): Promise<string[]> {
  const applied: { name: string }[] = await dataSource.query(`SELECT name FROM typeorm_migrations`).catch(() => []);
  const done = new Set(applied.map((r) => r.name));
  return dataSource.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !done.has(n));
}
