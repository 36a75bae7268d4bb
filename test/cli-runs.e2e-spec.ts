/**
 * The runs commands of the compiled CLI, as an operator runs them: child processes judged by exit code and
 * output. They run on a scratch database of their own, because `--work` starts a real worker that would claim
 * the ready steps of every other suite sharing the run's test database.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { createDataSource, databaseName, dropDatabase } from '#persistence';
import { createScratchDatabase, insertDefinition, runCli, TEST_ADMIN_URL_ENV, type CliResult } from '#testing';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const EVENT_LINE = /^\d\d:\d\d:\d\d\.\d{3} {2}#(\d+)\s+(\S+)\s+(\S+)/;

const chain: DefinitionSpec = {
  slug: 'cli-chain',
  name: 'CLI chain',
  input: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  steps: [
    { key: 'greet', agent: 'echo', input: { greeting: 'Hello, {{ input.name }}!' } },
    { key: 'shout', agent: 'echo', dependsOn: ['greet'], input: { text: '{{ steps.greet.output.greeting }}' } },
    { key: 'reply', agent: 'echo', dependsOn: ['shout'], input: { heard: '{{ steps.shout.output.text }}' } },
  ],
};

const failing: DefinitionSpec = {
  slug: 'cli-failing',
  name: 'CLI failing',
  steps: [
    { key: 'first', agent: 'echo', input: {} },
    { key: 'broken', agent: 'fail', dependsOn: ['first'], input: { message: 'on purpose' } },
    { key: 'after', agent: 'echo', dependsOn: ['broken'], input: {} },
  ],
};

describe('cli runs commands (e2e)', () => {
  const admin = () => process.env[TEST_ADMIN_URL_ENV] as string;
  let url: string;
  let dataSource: DataSource;
  let org: string;
  let dir: string;

  const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DATABASE_URL: url });
  const inOrg = (...args: string[]) => cli(...args, '--org', org);
  const runIdOf = (result: CliResult) => (result.stdout.match(new RegExp(`Started run (${UUID.source})`)) ?? [])[1];

  beforeAll(async () => {
    url = await createScratchDatabase(admin(), `cli_runs_${process.pid}`);
    dataSource = createDataSource(url, 2);
    await dataSource.initialize();
    await dataSource.runMigrations();
    org = `cli-runs-${randomUUID().slice(0, 8)}`;
    const [row] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [org]);
    await insertDefinition(dataSource, row.id, chain);
    await insertDefinition(dataSource, row.id, failing);
    dir = mkdtempSync(join(tmpdir(), 'baton-cli-runs-'));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    if (url) await dropDatabase(admin(), databaseName(url));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let completedRunId: string;

  it('runs:start --follow --work runs a chain in process, prints every event and the progress, and exits 0', async () => {
    const result = await inOrg('runs:start', chain.slug, '--input', '{"name":"Ada"}', '--follow', '--work');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    completedRunId = runIdOf(result);
    expect(completedRunId).toMatch(UUID);

    const printed = result.stdout
      .split('\n')
      .map((line) => EVENT_LINE.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ seq: Number(m[1]), type: m[2], stepKey: m[3] }));
    const logged: { seq: number; type: string; step_key: string | null }[] = await dataSource.query(
      `SELECT seq, type, step_key FROM orchestration_events WHERE run_id = $1 ORDER BY seq`,
      [completedRunId],
    );
    // Exactly the run's event log, in order, each event once.
    expect(printed).toEqual(logged.map((e) => ({ seq: e.seq, type: e.type, stepKey: e.step_key ?? '-' })));
    expect(printed.filter((e) => e.type === 'step.completed').map((e) => e.stepKey)).toEqual(['greet', 'shout', 'reply']);
    expect(printed[printed.length - 1].type).toBe('run.completed');

    // Not a TTY: the bar is printed as a plain line each time it changes, from 0/3 to 3/3.
    const bars = result.stdout.split('\n').filter((line) => line.startsWith('['));
    expect(bars).toEqual([
      '[--------------------] 0/3 0%',
      '[#######-------------] 1/3 33%',
      '[#############-------] 2/3 67%',
      '[####################] 3/3 100%',
    ]);
    expect(result.stdout).toContain(`Run ${completedRunId} completed in`);
    expect(result.stdout).toContain('Output: {"reply":{"heard":"Hello, Ada!"}}');
  });

  it('runs:list shows the run, and filters by status and definition', async () => {
    const all = await inOrg('runs:list');
    expect(all.code).toBe(0);
    const line = all.stdout.split('\n').find((l) => l.startsWith(completedRunId));
    expect(line).toMatch(new RegExp(`^${completedRunId}\\s+cli-chain v1\\s+completed\\s+\\d{4}-`));
    expect((await inOrg('runs:list', '--status', 'completed', '--definition', 'cli-chain')).stdout).toContain(completedRunId);
    expect((await inOrg('runs:list', '--status', 'failed')).stdout).not.toContain(completedRunId);
    const json = await inOrg('runs:list', '--json', '--limit', '1');
    const page = JSON.parse(json.stdout) as { items: { id: string }[]; total: number; limit: number };
    expect(page.limit).toBe(1);
    expect(page.items).toHaveLength(1);
    expect(page.total).toBeGreaterThanOrEqual(1);
  });

  it('runs:get prints the run with its steps as JSON', async () => {
    const result = await inOrg('runs:get', completedRunId);
    expect(result.code).toBe(0);
    const run = JSON.parse(result.stdout) as {
      id: string;
      status: string;
      definition: string;
      output: unknown;
      steps: { key: string; status: string; output: unknown }[];
    };
    expect(run).toMatchObject({
      id: completedRunId,
      status: 'completed',
      definition: 'cli-chain',
      output: { reply: { heard: 'Hello, Ada!' } },
    });
    expect(run.steps.map((s) => [s.key, s.status])).toEqual([
      ['greet', 'completed'],
      ['shout', 'completed'],
      ['reply', 'completed'],
    ]);
    const unknown = await inOrg('runs:get', randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Run .* not found/);
    expect((await inOrg('runs:get', 'not-a-uuid')).code).toBe(2);
  });

  it('runs:cancel on a completed run exits 1 and says why', async () => {
    const result = await inOrg('runs:cancel', completedRunId);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Run ${completedRunId} is already completed`);
  });

  it('without --work a run waits for a worker; runs:cancel cancels it and is audited as the system', async () => {
    const inputFile = join(dir, 'input.json');
    writeFileSync(inputFile, JSON.stringify({ name: 'from a file' }));
    const started = await inOrg('runs:start', chain.slug, '--input', `@${inputFile}`);
    expect(started.code).toBe(0);
    const runId = runIdOf(started);
    const [waiting] = await dataSource.query(`SELECT status, input FROM orchestration_runs WHERE id = $1`, [runId]);
    expect(waiting.status).not.toMatch(/completed|failed|cancelled/);
    expect(waiting.input).toEqual({ name: 'from a file' });

    const cancelled = await inOrg('runs:cancel', runId, '--reason', 'changed my mind');
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`Cancelled run ${runId} (3 of 3 step(s) cancelled)`);
    const [run] = await dataSource.query(`SELECT status FROM orchestration_runs WHERE id = $1`, [runId]);
    expect(run.status).toBe('cancelled');
    const audit = await dataSource.query(`SELECT actor_type, actor_id, action, details FROM audit_log WHERE target_id = $1`, [runId]);
    expect(audit).toEqual([{ actor_type: 'system', actor_id: null, action: 'run.cancel', details: { reason: 'changed my mind' } }]);
  });

  it('runs:start --follow --work on a failing run prints the failure and exits 1', async () => {
    const result = await inOrg('runs:start', failing.slug, '--input', '{}', '--follow', '--work');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/step\.failed\s+broken/);
    expect(result.stdout).toMatch(/step\.cancelled\s+after/);
    expect(result.stderr).toMatch(/Run \S+ failed after [\d.]+ s: step broken: on purpose/);
  });

  it('runs:start rejects input that does not match the schema, listing the paths, and creates nothing', async () => {
    const before = await dataSource.query(`SELECT count(*)::int AS n FROM orchestration_runs`);
    const result = await inOrg('runs:start', chain.slug, '--input', '{"name":5,"extra":true}');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Input does not match the input schema of cli-chain v1');
    expect(result.stderr).toMatch(/^ {2}\$\S*name: /m);
    expect(await dataSource.query(`SELECT count(*)::int AS n FROM orchestration_runs`)).toEqual(before);
  });

  it('runs:start refuses bad JSON (exit 2) and an unknown definition (exit 1) with clear messages', async () => {
    const badJson = await inOrg('runs:start', chain.slug, '--input', '{name:');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('Invalid JSON in --input');
    const missingFile = await inOrg('runs:start', chain.slug, '--input', `@${join(dir, 'nope.json')}`);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('Cannot read the input file');
    const unknown = await inOrg('runs:start', 'no-such-definition', '--input', '{}');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`Orchestration definition no-such-definition not found in organization ${org}`);
  });

  it('--help lists the runs commands', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const command of ['runs:start', 'runs:list', 'runs:get', 'runs:cancel']) expect(help.stdout).toContain(command);
  });

  it('runs:start with an idempotency key returns the first run on a repeat', async () => {
    const key = `cli-${randomUUID()}`;
    const first = await inOrg('runs:start', chain.slug, '--input', '{"name":"once"}', '--idempotency-key', key);
    const runId = runIdOf(first);
    expect(runId).toMatch(UUID);
    const again = await inOrg('runs:start', chain.slug, '--input', '{"name":"once"}', '--idempotency-key', key);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Idempotency key "${key}" was used before: run ${runId}`);
    await inOrg('runs:cancel', runId);
  });
});
