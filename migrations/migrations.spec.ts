/**
 * Every migration is reversible: on a scratch database, up -> down to zero -> up again yields the same
 * catalog, and the schema holds the constraints and indexes the engine relies on.
 */
import type { DataSource } from 'typeorm';
import { createDataSource, databaseName, dropDatabase, revertLastMigration } from '#persistence';
import { catalogDump, catalogText, createScratchDatabase, MIGRATIONS_TABLE, TEST_ADMIN_URL_ENV, type CatalogDump } from '#testing';
import { MIGRATIONS } from './index.js';

function adminUrl(): string {
  const url = process.env[TEST_ADMIN_URL_ENV];
  if (!url) throw new Error(`${TEST_ADMIN_URL_ENV} is not set: run tests through jest (globalSetup sets it)`);
  return url;
}

function indexes(dump: CatalogDump, table: string): string[] {
  const found = dump.tables.find((t) => t.name === table);
  if (!found) throw new Error(`table ${table} is missing`);
  return Object.values(found.indexes);
}

describe('migrations', () => {
  let url: string;
  let dataSource: DataSource;
  let first: CatalogDump;

  beforeAll(async () => {
    url = await createScratchDatabase(adminUrl(), `migr_${process.pid}`);
    dataSource = createDataSource(url, 2);
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((M) => new M().name));
    first = await catalogDump(url);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    if (url) await dropDatabase(adminUrl(), databaseName(url));
  });

  it('reverts every migration down to an empty schema and re-applies them to the identical catalog', async () => {
    const reverted: string[] = [];
    for (let name = await revertLastMigration(dataSource); name !== null; name = await revertLastMigration(dataSource)) reverted.push(name);
    expect(reverted).toEqual(MIGRATIONS.map((M) => new M().name).reverse());

    const empty = await catalogDump(url);
    expect(empty).toEqual({ tables: [], sequences: {}, functions: {}, types: {} });
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${MIGRATIONS_TABLE}`);
    expect(n).toBe(0);

    await dataSource.runMigrations({ transaction: 'each' });
    const second = await catalogDump(url);
    expect(catalogText(second)).toEqual(catalogText(first));
    expect(second).toEqual(first);
  });

  it("maps each entity onto its table: every column it declares exists with the table's nullability, and none of the table is missing", async () => {
    const columns = (await dataSource.query(
      `SELECT table_name, column_name, is_nullable = 'YES' AS nullable FROM information_schema.columns WHERE table_schema = 'public'`,
    )) as { table_name: string; column_name: string; nullable: boolean }[];
    // The commit-safe cursor of the event log (xid8, which TypeORM has no type for) is the engine's alone.
    const unmapped = new Set(['orchestration_events.tx_id']);
    const problems: string[] = [];
    for (const entity of dataSource.entityMetadatas) {
      const table = new Map(columns.filter((c) => c.table_name === entity.tableName).map((c) => [c.column_name, c.nullable]));
      if (table.size === 0) problems.push(`${entity.name}: no table ${entity.tableName}`);
      for (const column of entity.columns) {
        if (!table.has(column.databaseName))
          problems.push(`${entity.name}.${column.propertyName}: no column ${entity.tableName}.${column.databaseName}`);
        else if (table.get(column.databaseName) !== column.isNullable)
          problems.push(
            `${entity.name}.${column.propertyName}: nullable ${column.isNullable} in the entity, ${table.get(column.databaseName)} in the table`,
          );
      }
      const mapped = new Set(entity.columns.map((c) => c.databaseName));
      for (const name of table.keys())
        if (!mapped.has(name) && !unmapped.has(`${entity.tableName}.${name}`))
          problems.push(`${entity.name}: column ${entity.tableName}.${name} is not mapped`);
    }
    expect(problems).toEqual([]);
  });

  it('creates the core tables of the product contract', () => {
    const names = first.tables.map((t) => t.name);
    for (const table of [
      'organizations',
      'users',
      'api_keys',
      'agents',
      'orchestration_definitions',
      'orchestration_runs',
      'orchestration_steps',
      'human_approvals',
      'orchestration_events',
      'audit_log',
      'conversations',
      'task_messages',
      'step_cache',
    ]) {
      expect(names).toContain(table);
    }
  });

  it('holds the constraints and indexes the engine relies on', () => {
    const definitions = first.tables.find((t) => t.name === 'orchestration_definitions');
    expect(Object.values(definitions?.constraints ?? {})).toContain('UNIQUE (organization_id, slug, version)');

    // One run per idempotency key and organization; runs without a key are unconstrained.
    expect(indexes(first, 'orchestration_runs')).toContainEqual(
      expect.stringMatching(
        /^CREATE UNIQUE INDEX \S+ ON public\.orchestration_runs USING btree \(organization_id, idempotency_key\) WHERE \(idempotency_key IS NOT NULL\)$/,
      ),
    );
    expect(indexes(first, 'orchestration_runs')).toContainEqual(
      expect.stringMatching(/ON public\.orchestration_runs USING btree \(parent_run_id\)/),
    );
    // Workers claim from a partial index that holds only ready steps.
    expect(indexes(first, 'orchestration_steps')).toContainEqual(
      expect.stringMatching(/ON public\.orchestration_steps USING btree .* WHERE \(\(status\)::text = 'ready'::text\)$/),
    );
    const events = first.tables.find((t) => t.name === 'orchestration_events');
    expect(Object.values(events?.constraints ?? {})).toContain('UNIQUE (run_id, seq)');
    expect(indexes(first, 'orchestration_events')).toContainEqual(
      expect.stringMatching(/ON public\.orchestration_events USING btree \(organization_id, id\)$/),
    );
    // Events and steps reference their run and its organization with one key (one check per row written).
    for (const table of ['orchestration_events', 'orchestration_steps'])
      expect(Object.values(first.tables.find((t) => t.name === table)?.constraints ?? {})).toContain(
        'FOREIGN KEY (run_id, organization_id) REFERENCES orchestration_runs(id, organization_id) ON DELETE CASCADE',
      );
  });

  it("refuses an event or a step naming an organization other than its run's, and removes both with the organization", async () => {
    const [a] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('fk-a', 'a') RETURNING id`);
    const [b] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('fk-b', 'b') RETURNING id`);
    const [definition] = await dataSource.query(
      `INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec) VALUES ($1, 'd', 1, 'd', '{}') RETURNING id`,
      [a.id],
    );
    const [run] = await dataSource.query(
      `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, input) VALUES ($1, $2, 'd', 1, '{}') RETURNING id`,
      [a.id, definition.id],
    );
    const event = (org: string) =>
      dataSource.query(`INSERT INTO orchestration_events (organization_id, run_id, seq, type) VALUES ($1, $2, 1, 'run.created')`, [
        org,
        run.id,
      ]);
    const step = (org: string) =>
      dataSource.query(`INSERT INTO orchestration_steps (run_id, organization_id, step_key, position) VALUES ($1, $2, 's', 0)`, [
        run.id,
        org,
      ]);
    for (const write of [event, step]) {
      const refused = await write(b.id).catch((e: { driverError?: { code?: string } }) => e.driverError?.code);
      expect(refused).toBe('23503');
      await write(a.id);
    }
    await dataSource.query(`DELETE FROM organizations WHERE id = $1`, [a.id]);
    const [left] = await dataSource.query(
      `SELECT (SELECT count(*)::int FROM orchestration_events WHERE run_id = $1) + (SELECT count(*)::int FROM orchestration_steps WHERE run_id = $1) AS n`,
      [run.id],
    );
    expect(left.n).toBe(0);
  });

  it('stores every timestamp with its time zone', () => {
    const naive = first.tables.flatMap((t) =>
      t.columns.filter((c) => c.type.startsWith('timestamp without time zone')).map((c) => `${t.name}.${c.name}`),
    );
    expect(naive).toEqual([]);
    const aware = first.tables.flatMap((t) => t.columns.filter((c) => c.type === 'timestamp with time zone'));
    expect(aware.length).toBeGreaterThan(10);
  });
});
