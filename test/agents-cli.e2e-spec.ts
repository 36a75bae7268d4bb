/**
 * The agent commands of the compiled CLI, as an operator runs them: agents:apply (created / updated / unchanged,
 * bad files reported), agents:list, agents:info and breakers:status, on an organization of their own.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { openTestDataSource, runCli, testDatabaseUrl } from '#testing';

describe('agents cli (e2e)', () => {
  let dataSource: DataSource;
  let org: string;
  let orgId: string;
  let dir: string;
  const run = (...args: string[]) => runCli(args, { DATABASE_URL: testDatabaseUrl() });
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const translator = (slug: string, model = 'm1') =>
    `slug: ${slug}\nname: Translator\ntype: context\ncapabilities: [translate]\nconfig:\n  model: ${model}\n  apiKeyEnv: OPENAI_API_KEY\n  maxConcurrency: 2\n`;

  beforeAll(async () => {
    dataSource = await openTestDataSource(2);
    org = `cli-agents-${randomUUID().slice(0, 8)}`;
    [{ id: orgId }] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [org]);
    dir = mkdtempSync(join(tmpdir(), 'baton-cli-agents-'));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('agents:apply creates, then leaves unchanged, then updates an agent', async () => {
    const path = write('translator.yaml', translator('cli-translator'));
    const created = await run('agents:apply', path, '--org', org);
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain(`${path}: created cli-translator`);
    const unchanged = await run('agents:apply', path, '--org', org);
    expect(unchanged.stdout).toContain(`${path}: unchanged cli-translator`);
    write('translator.yaml', translator('cli-translator', 'm2'));
    const updated = await run('agents:apply', path, '--org', org);
    expect(updated.stdout).toContain(`${path}: updated cli-translator`);
    const [row] = await dataSource.query(`SELECT config FROM agents WHERE organization_id = $1 AND slug = 'cli-translator'`, [orgId]);
    expect(row.config).toEqual({ model: 'm2', apiKeyEnv: 'OPENAI_API_KEY', maxConcurrency: 2 });
  });

  it('agents:apply on a folder applies every agent, reports the bad ones with their paths and exits 1', async () => {
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.yaml'), translator('cli-folder-a'));
    writeFileSync(join(folder, 'b.yaml'), 'slug: cli-folder-b\nname: B\ntype: api\nconfig:\n  url: https://example.com\n  apiKey: hunter2hunter2\n');
    writeFileSync(join(folder, 'c.json'), JSON.stringify([{ slug: 'cli-folder-c', name: 'C', type: 'orchestrator', config: { definition: 'hello-echo' } }, { slug: 'cli-folder-d', name: 'D', type: 'robot' }]));
    writeFileSync(join(folder, 'd.yaml'), 'slug: [unclosed');
    const result = await run('agents:apply', folder, '--org', org);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${join(folder, 'a.yaml')}: created cli-folder-a`);
    expect(result.stdout).toContain(`${join(folder, 'c.json')}: created cli-folder-c`);
    expect(result.stderr).toContain(`$.config.apiKey: looks like a literal secret`);
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).toContain(`$.type: must be one of`);
    expect(result.stderr).toContain(`${join(folder, 'd.yaml')}: not valid YAML or JSON`);
    expect(result.stderr).toContain('3 of 5 agent(s) were not applied');
  });

  it('agents:list and agents:info show agents with health, breaker and recent steps', async () => {
    await run('agents:apply', write('info.yaml', translator('cli-info')), '--org', org);
    const list = await run('agents:list', '--org', org, '--capability', 'translate');
    expect(list).toMatchObject({ code: 0 });
    expect(list.stdout).toMatch(/SLUG\s+TYPE\s+STATUS\s+CAPABILITIES\s+HEALTH\s+BREAKER/);
    expect(list.stdout).toMatch(/cli-info\s+context\s+active\s+translate\s+unknown\s+closed/);
    expect(list.stdout).not.toContain('echo');
    const all = await run('agents:list', '--org', org, '--json');
    const slugs = (JSON.parse(all.stdout).items as { slug: string; builtin: boolean }[]).map((a) => a.slug);
    expect(slugs).toEqual(expect.arrayContaining(['cli-info', 'echo', 'sleep', 'flaky', 'fail']));

    const info = await run('agents:info', 'cli-info', '--org', org);
    expect(info).toMatchObject({ code: 0 });
    expect(info.stdout).toContain('cli-info (Translator)');
    expect(info.stdout).toMatch(/breaker:\s+closed/);
    expect(info.stdout).toMatch(/health score:\s+1/);
    expect(info.stdout).toContain('recent steps:    none');
    const missing = await run('agents:info', 'nobody', '--org', org);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('Agent nobody not found');
  });

  it('breakers:status lists the breakers that are not closed first', async () => {
    await run('agents:apply', write('b1.yaml', translator('cli-breaker-a')), '--org', org);
    await run('agents:apply', write('b2.yaml', translator('cli-breaker-z')), '--org', org);
    await dataSource.query(`UPDATE agents SET breaker_state = 'open', breaker_changed_at = now() WHERE organization_id = $1 AND slug = 'cli-breaker-z'`, [orgId]);
    const result = await run('breakers:status', '--org', org);
    expect(result).toMatchObject({ code: 0 });
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/AGENT\s+BREAKER\s+SINCE/);
    expect(lines[1]).toMatch(/^cli-breaker-z\s+open\s+\d{4}-/);
    expect(result.stdout).toMatch(/cli-breaker-a\s+closed/);
    expect(result.stdout).toContain('1 breaker(s) not closed.');
  });
});
