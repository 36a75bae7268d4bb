/**
 * The `sql-query` tool against the real database: the seeded supabase-agent answers kpi-tracking's first step,
 * injection attempts in every input field are refused or inert, writes are impossible even for a query text that
 * tries one (the tool role cannot write or read other tables; the transaction is READ ONLY), and the statement
 * timeout and row limit hold.
 */
import type { INestApplication } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { dataPart, TaskRequestDto, TaskResponseDto, taskOutput, userMessage } from '#a2a';
import { AgentError, AgentRunnerRegistry, ToolAgentRunner, type AgentExecutionContext } from '#agents';
import type { JsonValue } from '#core';
import { AgentsRepository, KpiDemoRepository, ReadOnlyQueryRepository } from '#persistence';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig, waitForRun, type TestOrganization } from '#testing';
import { createApp } from '../apps/api/src/bootstrap.js';
import { BASE_AGENTS } from '../seeds/base-agents.js';
import { kpiDemoRows } from '../seeds/kpi-demo-data.js';

const SUPABASE = BASE_AGENTS.find((a) => a.slug === 'supabase-agent')!;

describe('tool agents: sql-query', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let runner: ToolAgentRunner;

  beforeAll(async () => {
    app = await createApp(testConfig({ pollIntervalMs: 200 }));
    await app.init();
    ds = await openTestDataSource();
    org = await createTestOrganization(app, ds, 'sqltool');
    await app.get(KpiDemoRepository).insertMissing(kpiDemoRows());
    await app.get(AgentsRepository).insertIfAbsent(org.id, SUPABASE);
    runner = app.get(ToolAgentRunner);
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
  });

  const context = (config: Record<string, unknown> = SUPABASE.config): AgentExecutionContext => ({
    organizationId: org.id,
    agentSlug: 'supabase-agent',
    config,
    attempt: 1,
    signal: new AbortController().signal,
    onProgress: () => undefined,
  });
  const call = async (input: JsonValue, config?: Record<string, unknown>) => {
    const request = { message: userMessage([dataPart(input)]) } as TaskRequestDto;
    return taskOutput(await runner.execute(request, context(config))) as {
      rows: Record<string, unknown>[];
      rowCount: number;
      truncated: boolean;
    };
  };
  const failure = async (input: JsonValue, config?: Record<string, unknown>): Promise<AgentError> => {
    const error = await call(input, config).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  };
  const count = async () => Number((await ds.query(`SELECT count(*) AS n FROM kpi_demo.kpi_metrics`))[0].n);

  it('is the registered runner of type tool', () => {
    expect(app.get(AgentRunnerRegistry).forType('tool')).toBe(runner);
    expect(runner.configSchema).toMatchObject({ required: ['allowedTables', 'queries'] });
  });

  it("runs kpi-tracking's first step through the engine: every KPI of 2026-Q3 with its target", async () => {
    const slug = `kpi-fetch-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, {
      slug,
      name: slug,
      steps: [
        { key: 'fetch_metrics', agent: 'supabase-agent', input: { query: 'kpi_by_quarter', params: { quarter: '{{ input.quarter }}' } } },
      ],
    });
    const started = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: slug, input: { quarter: '2026-Q3' } })
      .expect(201);
    const run = await waitForRun(app, org.users.operator.token, started.body.id, ['completed', 'failed']);
    expect(run.status).toBe('completed');
    const output = run.steps?.[0].output as {
      rows: { metric: string; region: string; value: number; target: number }[];
      rowCount: number;
      truncated: boolean;
    };
    expect(output).toMatchObject({ rowCount: 20, truncated: false });
    expect(new Set(output.rows.map((r) => r.region))).toEqual(new Set(['EMEA', 'NA', 'APAC', 'LATAM']));
    expect(output.rows[0]).toEqual({
      metric: 'churn_rate',
      name: 'Customer churn',
      unit: '%',
      higher_is_better: false,
      region: expect.any(String),
      value: expect.any(Number),
      target: expect.any(Number),
    });
  });

  it('answers with valid A2A task DTOs (class-validator) and maps errors to retryable or not', async () => {
    const task = plainToInstance(TaskRequestDto, { message: userMessage([dataPart({ query: 'annual_targets', params: { year: 2026 } })]) });
    expect(await validate(task)).toEqual([]);
    const response = await runner.execute(task, context());
    expect(await validate(plainToInstance(TaskResponseDto, response), { forbidUnknownValues: false })).toEqual([]);
    expect(response).toMatchObject({ status: { state: 'TASK_STATE_COMPLETED' }, artifacts: [{ parts: [{ data: { rowCount: 20 } }] }] });
    // Bad input and bad config are for good; a timeout is worth a retry (below).
    expect(await failure({ query: 'nope' })).toMatchObject({ code: 'INVALID_INPUT', retryable: false });
    expect(await failure({ query: 'all' }, { allowedTables: ['kpis'], queries: { all: { sql: 'SELECT * FROM users' } } })).toMatchObject({
      code: 'INVALID_AGENT_CONFIG',
      retryable: false,
    });
    expect(await failure({ query: 'all' }, { tool: 'shell', allowedTables: ['kpis'], queries: {} })).toMatchObject({
      code: 'UNKNOWN_TOOL',
      retryable: false,
    });
  });

  it('refuses injection attempts in the query name, the parameter names, values and types, and the limit', async () => {
    const before = await count();
    const attempts: JsonValue[] = [
      { query: "kpi_by_quarter'; DROP TABLE kpi_demo.kpi_metrics; --", params: { quarter: '2026-Q3' } },
      { query: 'kpi_by_quarter', params: { quarter: "2026-Q3' OR '1'='1" } },
      { query: 'kpi_by_quarter', params: { quarter: '2026-Q3', 'quarter = $1 OR 1=1 --': 'x' } },
      { query: 'kpi_by_quarter', params: { quarter: ['2026-Q3', "' OR 1=1"] } },
      { query: 'kpi_by_quarter', params: { quarter: { $gt: '' } } },
      { query: 'kpi_by_quarter', params: "quarter='2026-Q3' OR 1=1" },
      { query: 'kpi_by_region', params: { region: "EMEA' OR '1'='1" } },
      { query: 'annual_targets', params: { year: '2026; DROP TABLE kpi_demo.kpi_targets' } },
      { query: 'kpi_by_quarter', params: { quarter: '2026-Q3' }, limit: '1; DELETE FROM kpi_demo.kpi_metrics' },
      { query: 'kpi_by_quarter', params: { quarter: '2026-Q3' }, limit: 1_000_000 },
      'SELECT * FROM users',
    ];
    for (const input of attempts) expect([input, (await failure(input)).code]).toEqual([input, 'INVALID_INPUT']);
    expect(await count()).toBe(before);
  });

  it('keeps values that pass validation inert: they are bound, never spliced into SQL', async () => {
    const before = await count();
    for (const metric of ["x' OR '1'='1", "'; DROP TABLE kpi_demo.kpi_metrics; --", '$1', "\\'; DELETE FROM kpi_demo.kpis; --"]) {
      const output = await call({ query: 'kpi_by_region', params: { region: 'EMEA', metric } });
      expect([metric, output.rowCount]).toEqual([metric, 0]);
    }
    expect((await call({ query: 'kpi_by_region', params: { region: 'EMEA', metric: 'revenue' } })).rowCount).toBe(5);
    expect(await count()).toBe(before);
  });

  it('refuses config table, schema and column names that are not plain allow-listed identifiers', async () => {
    const bad: Record<string, unknown>[] = [
      { allowedTables: ['kpi_metrics; DROP TABLE kpi_demo.kpis'], queries: { q: { sql: 'SELECT * FROM kpi_metrics' } } },
      {
        schema: 'kpi_demo; DROP SCHEMA kpi_demo CASCADE',
        allowedTables: ['kpi_metrics'],
        queries: { q: { sql: 'SELECT * FROM kpi_metrics' } },
      },
      { allowedTables: ['kpi_metrics'], queries: { q: { sql: 'SELECT * FROM kpi_metrics JOIN public.users u ON true' } } },
      { allowedTables: ['kpi_metrics'], queries: { q: { sql: 'SELECT "value; DROP TABLE x" FROM kpi_metrics' } } },
      { allowedTables: ['kpi_metrics'], queries: { q: { sql: "SELECT set_config('role', 'postgres', true) FROM kpi_metrics" } } },
    ];
    for (const config of bad) expect((await failure({ query: 'q' }, config)).code).toBe('INVALID_AGENT_CONFIG');
  });

  describe('behind the static check (a query text that would pass it, or a bug in it)', () => {
    const repo = () => app.get(ReadOnlyQueryRepository);
    const refusal = (text: string) =>
      repo()
        .run({ text, values: [], schema: 'kpi_demo', statementTimeoutMs: 2000 })
        .then(
          () => null,
          (e: { code?: string }) => e.code,
        );

    it('cannot write: the transaction is READ ONLY', async () => {
      const before = await count();
      expect(await refusal('DELETE FROM kpi_demo.kpi_metrics')).toBe('25006');
      expect(await refusal("INSERT INTO kpi_demo.regions (code, name) VALUES ('X', 'x')")).toBe('25006');
      expect(await refusal('CREATE TABLE kpi_demo.evil (id int)')).toBe('25006');
      expect(await count()).toBe(before);
    });

    it('runs one statement per call, whatever the text holds (extended protocol)', async () => {
      expect(await refusal('SELECT 1; DELETE FROM kpi_demo.kpi_metrics')).toBe('42601');
    });

    it('runs as a role that may read only the granted demo tables and write nothing, even outside READ ONLY', async () => {
      expect(await refusal('SELECT * FROM public.users')).toBe('42501');
      expect(await refusal('SELECT * FROM public.agents')).toBe('42501');
      const [{ role }] = await ds.query(`SELECT baton_sql_tool_role() AS role`);
      const [{ super: isSuper, login }] = await ds.query(
        `SELECT rolsuper AS super, rolcanlogin AS login FROM pg_roles WHERE rolname = $1`,
        [role],
      );
      expect({ isSuper, login }).toEqual({ isSuper: false, login: false });
      const writeAsRole = await ds
        .transaction(async (m) => {
          await m.query(`SELECT set_config('role', baton_sql_tool_role(), true)`);
          await m.query(`DELETE FROM kpi_demo.kpi_metrics`);
        })
        .then(
          () => null,
          (e: { code?: string }) => e.code,
        );
      expect(writeAsRole).toBe('42501');
    });
  });

  it('stops a query at its statement timeout (retryable TIMEOUT)', async () => {
    const config = {
      allowedTables: ['kpis'],
      statementTimeoutMs: 150,
      queries: { slow: { sql: 'SELECT count(*) AS n FROM generate_series(1, 500000000) g' } },
    };
    const started = Date.now();
    expect(await failure({ query: 'slow' }, config)).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      message: expect.stringMatching(/150 ms/),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('returns at most maxRows rows (flagged truncated), and the input may ask for fewer', async () => {
    const config = { ...SUPABASE.config, maxRows: 5 };
    expect(await call({ query: 'kpi_by_quarter', params: { quarter: '2026-Q3' } }, config)).toMatchObject({ rowCount: 5, truncated: true });
    expect(await call({ query: 'kpi_by_quarter', params: { quarter: '2026-Q3' }, limit: 3 }, config)).toMatchObject({
      rowCount: 3,
      truncated: true,
    });
    expect(await call({ query: 'revenue_by_quarter', params: { quarter: '2026-Q3' } }, config)).toMatchObject({
      rowCount: 4,
      truncated: false,
    });
    expect((await failure({ query: 'kpi_by_quarter', params: { quarter: '2026-Q3' }, limit: 6 }, config)).message).toMatch(
      /limit must be an integer from 1 to 5/,
    );
  });
});
