import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import type { AppConfig } from '#config';
import { DefinitionsService } from '#definitions';
import {
  AgentsRepository,
  createDataSource,
  databaseName,
  dropDatabase,
  migrateDatabase,
  OrganizationsRepository,
  UsersRepository,
} from '#persistence';
import { createScratchDatabase, TEST_ADMIN_URL_ENV, testConfig } from '#testing';
import { BASE_AGENTS } from './base-agents.js';
import { defaultDefinitionsDir, runSeeds, SeedDefinitionError, type SeedDependencies, type SeedSummary } from './seed-runner.js';

const TABLES = ['organizations', 'users', 'api_keys', 'agents', 'orchestration_definitions', 'orchestration_runs', 'audit_log'];

/** Every row the seeds own (organization global and what hangs off it), in a stable order. */
async function dumpGlobal(dataSource: DataSource): Promise<string> {
  const [org] = await dataSource.query(`SELECT * FROM organizations WHERE slug = 'global'`);
  const users = await dataSource.query(`SELECT * FROM users WHERE organization_id = $1 ORDER BY email`, [org.id]);
  const agents = await dataSource.query(`SELECT * FROM agents WHERE organization_id = $1 ORDER BY slug`, [org.id]);
  const definitions = await dataSource.query(`SELECT * FROM orchestration_definitions WHERE organization_id = $1 ORDER BY slug, version`, [
    org.id,
  ]);
  return JSON.stringify({ org, users, agents, definitions });
}

async function rowCounts(dataSource: DataSource): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = Number((await dataSource.query(`SELECT count(*) AS n FROM ${table}`))[0].n);
  return counts;
}

const seedFiles = () => readdirSync(defaultDefinitionsDir()).filter((f) => f.endsWith('.yaml'));

describe('seeds', () => {
  let url: string;
  let config: AppConfig;
  let app: INestApplication;
  let dataSource: DataSource;
  let first: SeedSummary;

  beforeAll(async () => {
    // A database of its own: the dump below must not see other suites' rows in organization global.
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `seeds_${process.pid}`);
    const migrator = createDataSource(url, 2); // migrateDatabase holds one connection for its lock
    await migrator.initialize();
    await migrateDatabase(migrator);
    await migrator.destroy();
    config = testConfig({ databaseUrl: url });
    app = await createApp(config);
    await app.init();
    dataSource = app.get(DataSource);
    first = await runSeeds(app);
  });

  afterAll(async () => {
    await app?.close();
    if (url) await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, databaseName(url));
  });

  it('creates organization global, its admin, the seven base agents and every example definition', async () => {
    expect(first).toEqual({
      organizations: { created: 1, unchanged: 0 },
      users: { created: 1, unchanged: 0 },
      agents: { created: 7, unchanged: 0 },
      definitions: { created: seedFiles().length, versioned: 0, unchanged: 0 },
      kpiDemoRows: { created: 169 },
    });
    const agents: { slug: string; type: string }[] = await dataSource.query(
      `SELECT a.slug, a.type FROM agents a JOIN organizations o ON o.id = a.organization_id WHERE o.slug = 'global' ORDER BY a.slug`,
    );
    expect(agents).toEqual([
      { slug: 'finance-manager', type: 'orchestrator' },
      { slug: 'image-generator-google', type: 'function' },
      { slug: 'image-generator-openai', type: 'function' },
      { slug: 'image-orchestrator', type: 'orchestrator' },
      { slug: 'marketing-swarm', type: 'api' },
      { slug: 'summarizer', type: 'context' },
      { slug: 'supabase-agent', type: 'tool' },
    ]);
    const definitions: { slug: string }[] = await dataSource.query(`SELECT slug FROM orchestration_definitions ORDER BY slug`);
    expect(definitions.map((d) => d.slug)).toEqual(expect.arrayContaining(['kpi-tracking', 'hello-echo', 'fan-out-demo']));
  });

  it('changes nothing when run again: same rows, same counts, nothing created', async () => {
    const before = { dump: await dumpGlobal(dataSource), counts: await rowCounts(dataSource) };
    const second = await runSeeds(app);
    expect(second).toEqual({
      organizations: { created: 0, unchanged: 1 },
      users: { created: 0, unchanged: 1 },
      agents: { created: 0, unchanged: 7 },
      definitions: { created: 0, versioned: 0, unchanged: seedFiles().length },
      kpiDemoRows: { created: 0 },
    });
    expect(await rowCounts(dataSource)).toEqual(before.counts);
    expect(await dumpGlobal(dataSource)).toBe(before.dump);
  });

  it('seeds when the API starts with BATON_AUTO_MIGRATE: restores a missing agent, leaves the rest as it was', async () => {
    await dataSource.query(`DELETE FROM agents WHERE slug = 'marketing-swarm'`);
    const before = await dumpGlobal(dataSource);
    const started = await createApp({ ...config, autoMigrate: true });
    try {
      await started.init();
    } finally {
      await started.close();
    }
    const [restored] = await dataSource.query(`SELECT type, config FROM agents WHERE slug = 'marketing-swarm'`);
    expect(restored).toEqual({ type: 'api', config: expect.objectContaining({ method: 'POST', timeoutMs: 120000 }) });
    await dataSource.query(`DELETE FROM agents WHERE slug = 'marketing-swarm'`);
    expect(await dumpGlobal(dataSource)).toBe(before);
    await runSeeds(app);
  });

  it('seeds the demo KPI data: four regions, five KPIs, five quarters with targets, which supabase-agent reads', async () => {
    const [counts] = await dataSource.query(
      `SELECT (SELECT count(*) FROM kpi_demo.regions)::int AS regions, (SELECT count(*) FROM kpi_demo.kpis)::int AS kpis,
              (SELECT count(DISTINCT quarter) FROM kpi_demo.kpi_metrics)::int AS quarters,
              (SELECT count(*) FROM kpi_demo.kpi_metrics WHERE quarter = '2026-Q3')::int AS q3,
              (SELECT count(*) FROM kpi_demo.kpi_metrics WHERE value < target)::int AS misses`,
    );
    expect(counts).toMatchObject({ regions: 4, kpis: 5, quarters: 5, q3: 20 });
    expect(counts.misses).toBeGreaterThan(0);
    const [agent] = await dataSource.query(`SELECT config FROM agents WHERE slug = 'supabase-agent'`);
    expect(agent.config).toMatchObject({ tool: 'sql-query', schema: 'kpi_demo', queries: { kpi_by_quarter: expect.any(Object) } });
  });

  it('lets the seeded admin log in and use admin endpoints', async () => {
    const login = await request(app.getHttpServer())
      .post('/auth/login')
      .send({ email: config.adminEmail, password: config.adminPassword })
      .expect(200);
    await request(app.getHttpServer()).get('/api-keys').set('Authorization', `Bearer ${login.body.access_token}`).expect(200);
    const [admin] = await dataSource.query(`SELECT role FROM users WHERE email = $1`, [config.adminEmail]);
    expect(admin.role).toBe('admin');
  });

  it('ships seed definitions that all validate against the seeded agents', async () => {
    const organization = await app.get(OrganizationsRepository).findBySlug('global');
    const definitions = app.get(DefinitionsService);
    for (const file of seedFiles()) {
      const report = await definitions.validate(organization!.id, readFileSync(join(defaultDefinitionsDir(), file), 'utf8'));
      expect({ file, problems: report.problems, valid: report.valid }).toEqual({ file, problems: [], valid: true });
    }
  });

  it('points orchestrator agents at seeded definitions and keeps secrets out of agent rows', async () => {
    const rows: { type: string; config: { definition?: string }; function_code: string | null }[] = await dataSource.query(
      `SELECT a.type, a.config, a.function_code FROM agents a JOIN organizations o ON o.id = a.organization_id WHERE o.slug = 'global'`,
    );
    const slugs = new Set((await dataSource.query(`SELECT slug FROM orchestration_definitions`)).map((r: { slug: string }) => r.slug));
    for (const row of rows.filter((r) => r.type === 'orchestrator')) expect(slugs.has(row.config.definition)).toBe(true);
    for (const row of rows.filter((r) => r.type === 'function')) expect(row.function_code).toContain('return');
    // Keys are named by environment variable, never stored: no value shaped like an OpenAI/Google key.
    expect(JSON.stringify(rows)).not.toMatch(/sk-[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{20,}/);
    expect(BASE_AGENTS.every((a) => a.capabilities.length > 0)).toBe(true);
  });

  describe('with explicit dependencies', () => {
    let tmp: string;
    let deps: SeedDependencies;

    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'baton-seeds-'));
      deps = {
        config,
        organizations: app.get(OrganizationsRepository),
        users: app.get(UsersRepository),
        agents: app.get(AgentsRepository),
        definitions: app.get(DefinitionsService),
      };
    });

    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it('fails loudly, naming the file and the problems, when a seed definition is invalid', async () => {
      writeFileSync(join(tmp, 'broken.yaml'), 'slug: broken-seed\nname: Broken\nsteps:\n  - key: a\n    agent: no-such-agent\n');
      const failure = await runSeeds({ ...deps, definitionsDir: tmp }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(SeedDefinitionError);
      expect((failure as SeedDefinitionError).file).toBe(join(tmp, 'broken.yaml'));
      expect((failure as SeedDefinitionError).problems.length).toBeGreaterThan(0);
      expect((failure as SeedDefinitionError).message).toContain('no-such-agent');
    });

    it('refuses to create the admin with the development password in production', async () => {
      const empty = mkdtempSync(join(tmp, 'empty-'));
      const production = { ...config, nodeEnv: 'production', adminEmail: `prod-${process.pid}@baton.test`, adminPassword: 'baton-admin' };
      await expect(runSeeds({ ...deps, config: production, definitionsDir: empty })).rejects.toThrow(/ADMIN_PASSWORD/);
      expect(await dataSource.query(`SELECT id FROM users WHERE email = $1`, [production.adminEmail])).toEqual([]);
    });
  });
});
