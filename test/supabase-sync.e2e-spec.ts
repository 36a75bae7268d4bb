/**
 * supabase/migrations stays in step with migrations/: the committed SQL is what `npm run supabase:sync`
 * generates now (a forgotten sync fails CI), and applying it to an empty database gives the schema the
 * TypeORM migrations give.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#config';
import { createDataSource, databaseName, dropDatabase } from '#persistence';
import { catalogDump, catalogText, createScratchDatabase, TEST_ADMIN_URL_ENV } from '#testing';
import { GENERATED_MARKER, renderSupabaseMigrations } from '../scripts/supabase-sql.js';

const dir = join(projectRoot(), 'supabase', 'migrations');
const sqlFiles = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();

function adminUrl(): string {
  const url = process.env[TEST_ADMIN_URL_ENV];
  if (!url) throw new Error(`${TEST_ADMIN_URL_ENV} is not set: run tests through jest (globalSetup sets it)`);
  return url;
}

describe('supabase migrations', () => {
  const scratch: string[] = [];

  afterAll(async () => {
    for (const url of scratch) await dropDatabase(adminUrl(), databaseName(url));
  });

  it('are committed exactly as `npm run supabase:sync` generates them (run it after changing a migration)', async () => {
    const generated = await renderSupabaseMigrations();
    const committed = sqlFiles().filter((f) => readFileSync(join(dir, f), 'utf8').startsWith(GENERATED_MARKER));
    expect(committed).toEqual(generated.map((f) => f.fileName));
    for (const file of generated) expect(readFileSync(join(dir, file.fileName), 'utf8')).toBe(file.sql);
  });

  it('applied in order to an empty database give the same catalog as the TypeORM migrations', async () => {
    const viaSql = await createScratchDatabase(adminUrl(), `supa_sql_${process.pid}`);
    scratch.push(viaSql);
    const client = new pg.Client({ connectionString: viaSql });
    await client.connect();
    try {
      // One file = one multi-statement simple query in a transaction, as the Supabase CLI applies it.
      for (const file of sqlFiles()) await client.query(`BEGIN;\n${readFileSync(join(dir, file), 'utf8')}\nCOMMIT;`);
    } finally {
      await client.end();
    }

    const viaTypeorm = await createScratchDatabase(adminUrl(), `supa_orm_${process.pid}`);
    scratch.push(viaTypeorm);
    const dataSource = createDataSource(viaTypeorm, 2);
    await dataSource.initialize();
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await dataSource.destroy();
    }

    const expected = await catalogDump(viaTypeorm);
    expect(expected.tables.length).toBeGreaterThan(0);
    expect(catalogText(await catalogDump(viaSql))).toEqual(catalogText(expected));
  });
});
