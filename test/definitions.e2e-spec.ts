/**
 * Orchestration definitions over HTTP: authentication and roles, tenant isolation, validation (every problem
 * at once, nothing saved), YAML in and out, immutable versions, diff, archive and listing.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { parse } from 'yaml';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

const BASE = '/orchestrations/definitions';

type Step = Record<string, unknown>;

function definition(
  slug: string,
  steps: Step[] = [{ key: 'greet', agent: 'echo', input: { text: 'Hello {{ input.name }}' } }],
  extra: Record<string, unknown> = {},
) {
  return { slug, name: `Definition ${slug}`, input: { type: 'object', properties: { name: { type: 'string' } } }, steps, ...extra };
}

const YAML_DEFINITION = `# written by hand
slug: yaml-flow
name: YAML flow
description: Round-trips through YAML
input:
  type: object
  required: [quarter]
  properties:
    quarter: { type: string }
defaults:
  retry: { maxAttempts: 3, backoff: exponential, initialDelayMs: 200, maxDelayMs: 30000, jitter: true }
  timeoutMs: 60000
concurrency: 2
steps:
  - key: fetch
    agent: echo
    input: { quarter: "{{ input.quarter }}" }
  - key: analyze
    agent: flaky
    dependsOn: [fetch]
    input: { rows: "{{ steps.fetch.output.quarter }}", note: "for {{ run.id }}" }
    approval: { prompt: "Approve?", timeoutMs: 86400000, onTimeout: abort }
    retry: { maxAttempts: 5 }
  - key: wait
    agent: sleep
    dependsOn: [analyze]
    input: { ms: 1 }
output: { result: "{{ steps.analyze.output }}" }
`;

describe('definitions (e2e)', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    dataSource = await openTestDataSource();
    org = await createTestOrganization(app, dataSource, 'defs');
    other = await createTestOrganization(app, dataSource, 'defs-other');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await app?.close();
  });

  const http = () => request(app.getHttpServer());
  const as = (o: TestOrganization, role: keyof TestOrganization['users'] = 'admin') => `Bearer ${o.users[role].token}`;
  const rowCount = async (organizationId: string, slug: string) =>
    Number(
      (
        await dataSource.query(`SELECT count(*) AS n FROM orchestration_definitions WHERE organization_id = $1 AND slug = $2`, [
          organizationId,
          slug,
        ])
      )[0].n,
    );

  it('answers 401 without a token on every definitions endpoint', async () => {
    const calls = [
      http().get(BASE),
      http().post(BASE).send(definition('no-token')),
      http().post(`${BASE}/validate`).send(definition('no-token')),
      http().get(`${BASE}/no-token`),
      http().get(`${BASE}/no-token/versions`),
      http().get(`${BASE}/no-token/diff?from=1&to=2`),
      http().put(`${BASE}/no-token`).send(definition('no-token')),
      http().delete(`${BASE}/no-token`),
    ];
    for (const call of calls) {
      const res = await call;
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    }
  });

  it('creates from JSON (201) and refuses the same slug twice (409)', async () => {
    const body = definition('json-flow');
    const created = await http().post(BASE).set('Authorization', as(org)).send(body).expect(201);
    expect(created.body).toMatchObject({
      slug: 'json-flow',
      version: 1,
      name: 'Definition json-flow',
      status: 'active',
      createdBy: org.users.admin.id,
      spec: body,
    });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const again = await http().post(BASE).set('Authorization', as(org)).send(body).expect(409);
    expect(again.body).toMatchObject({ statusCode: 409, error: 'Conflict', message: expect.stringContaining('json-flow') });
  });

  it('hides definitions from other organizations (404), and lets them use the same slug', async () => {
    await http().post(BASE).set('Authorization', as(org)).send(definition('private-flow')).expect(201);
    const outsider = as(other);
    for (const call of [
      http().get(`${BASE}/private-flow`),
      http().get(`${BASE}/private-flow?version=1`),
      http().get(`${BASE}/private-flow/versions`),
      http().get(`${BASE}/private-flow/diff?from=1&to=1`),
      http().put(`${BASE}/private-flow`).send(definition('private-flow')),
      http().delete(`${BASE}/private-flow`),
    ]) {
      const res = await call.set('Authorization', outsider);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
    const list = await http().get(`${BASE}?search=private`).set('Authorization', outsider).expect(200);
    expect(list.body.total).toBe(0);
    await http().post(BASE).set('Authorization', outsider).send(definition('private-flow')).expect(201);
    const mine = await http().get(`${BASE}/private-flow`).set('Authorization', as(org)).expect(200);
    expect(mine.body.status).toBe('active');
  });

  it('lets viewers read and validate but not write (403)', async () => {
    await http().post(BASE).set('Authorization', as(org)).send(definition('viewer-flow')).expect(201);
    const viewer = as(org, 'viewer');
    for (const role of ['viewer', 'operator', 'approver'] as const) {
      await http()
        .post(BASE)
        .set('Authorization', as(org, role))
        .send(definition(`by-${role}`))
        .expect(403);
    }
    const put = await http().put(`${BASE}/viewer-flow`).set('Authorization', viewer).send(definition('viewer-flow')).expect(403);
    expect(put.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    await http().delete(`${BASE}/viewer-flow`).set('Authorization', viewer).expect(403);
    await http().get(`${BASE}/viewer-flow`).set('Authorization', viewer).expect(200);
    await http().get(`${BASE}/viewer-flow/versions`).set('Authorization', viewer).expect(200);
    await http().get(BASE).set('Authorization', viewer).expect(200);
    await http().post(`${BASE}/validate`).set('Authorization', viewer).send(definition('viewer-flow')).expect(200);
    expect(await rowCount(org.id, 'viewer-flow')).toBe(1);
    expect(await rowCount(org.id, 'by-viewer')).toBe(0);
  });

  it('rejects a dependency cycle with 400 naming the cycle, and saves nothing', async () => {
    const cyclic = definition('cyclic-flow', [
      { key: 'a', agent: 'echo', dependsOn: ['b'] },
      { key: 'b', agent: 'echo', dependsOn: ['c'] },
      { key: 'c', agent: 'echo', dependsOn: ['a'] },
    ]);
    const res = await http().post(BASE).set('Authorization', as(org)).send(cyclic).expect(400);
    expect(res.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringContaining('dependency cycle: a -> b -> c -> a'),
      details: [{ path: '$.steps[0].dependsOn[0]', message: 'dependency cycle: a -> b -> c -> a', code: 'dependency_cycle' }],
    });
    expect(await rowCount(org.id, 'cyclic-flow')).toBe(0);
    await http().get(`${BASE}/cyclic-flow`).set('Authorization', as(org)).expect(404);
  });

  it('round-trips a YAML definition: POST YAML, GET JSON and GET YAML give the same spec', async () => {
    const expected = parse(YAML_DEFINITION);
    const created = await http()
      .post(BASE)
      .set('Authorization', as(org))
      .set('Content-Type', 'application/yaml')
      .send(YAML_DEFINITION)
      .expect(201);
    expect(created.body).toMatchObject({ slug: 'yaml-flow', version: 1, description: 'Round-trips through YAML' });

    const json = await http()
      .get(`${BASE}/yaml-flow`)
      .set('Authorization', as(org))
      .expect(200)
      .expect('Content-Type', /application\/json/);
    expect(json.body.spec).toEqual(expected);

    const yaml = await http()
      .get(`${BASE}/yaml-flow`)
      .set('Authorization', as(org, 'viewer'))
      .set('Accept', 'application/yaml')
      .expect(200);
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    expect(yaml.text.startsWith('slug: yaml-flow\nname: YAML flow\n')).toBe(true);
    expect(parse(yaml.text)).toEqual(expected);

    // What GET answered in YAML is accepted back as the next version (edited: the same content saves nothing).
    const next = await http()
      .put(`${BASE}/yaml-flow`)
      .set('Authorization', as(org))
      .set('Content-Type', 'application/yaml')
      .send(yaml.text.replace('name: YAML flow', 'name: YAML flow, edited'))
      .expect(200);
    expect(next.body).toMatchObject({ version: 2, spec: { ...expected, name: 'YAML flow, edited' } });
  });

  it('reports malformed YAML as a problem at $', async () => {
    const res = await http()
      .post(BASE)
      .set('Authorization', as(org))
      .set('Content-Type', 'application/yaml')
      .send('slug: [unclosed')
      .expect(400);
    expect(res.body.details).toEqual([{ path: '$', message: expect.stringMatching(/^not valid YAML or JSON/), code: 'syntax' }]);
  });

  it('stores PUT as a new version and keeps the old one readable', async () => {
    await http().post(BASE).set('Authorization', as(org)).send(definition('versioned-flow')).expect(201);
    const v2body = definition('versioned-flow', [
      { key: 'greet', agent: 'echo', input: { text: 'Hi {{ input.name }}' } },
      { key: 'nap', agent: 'sleep', dependsOn: ['greet'], input: { ms: 1 } },
    ]);
    const v2 = await http().put(`${BASE}/versioned-flow`).set('Authorization', as(org)).send(v2body).expect(200);
    expect(v2.body).toMatchObject({ slug: 'versioned-flow', version: 2, spec: v2body });

    const latest = await http().get(`${BASE}/versioned-flow`).set('Authorization', as(org)).expect(200);
    expect(latest.body).toMatchObject({ version: 2 });
    const v1 = await http().get(`${BASE}/versioned-flow?version=1`).set('Authorization', as(org)).expect(200);
    expect(v1.body).toMatchObject({ version: 1, spec: definition('versioned-flow') });
    // The same content again saves nothing: the answer is version 2 (as definitions:apply reports "unchanged").
    const again = await http().put(`${BASE}/versioned-flow`).set('Authorization', as(org)).send(v2body).expect(200);
    expect(again.body).toMatchObject({ version: 2, spec: v2body });
    await http().get(`${BASE}/versioned-flow?version=3`).set('Authorization', as(org)).expect(404);
    await http().get(`${BASE}/versioned-flow?version=zero`).set('Authorization', as(org)).expect(400);

    const versions = await http().get(`${BASE}/versioned-flow/versions`).set('Authorization', as(org)).expect(200);
    expect(versions.body).toMatchObject({ total: 2, limit: 20, offset: 0 });
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(versions.body.items[0].spec).toBeUndefined();
  });

  it('refuses PUT of an unknown slug (404), of a different slug (400) and of an invalid definition (400)', async () => {
    await http().put(`${BASE}/never-created`).set('Authorization', as(org)).send(definition('never-created')).expect(404);
    await http().post(BASE).set('Authorization', as(org)).send(definition('put-checks')).expect(201);
    const mismatch = await http().put(`${BASE}/put-checks`).set('Authorization', as(org)).send(definition('other-slug')).expect(400);
    expect(mismatch.body.details).toContainEqual({
      path: '$.slug',
      message: 'must equal the slug in the path ("put-checks")',
      code: 'slug_mismatch',
    });
    const bad = await http()
      .put(`${BASE}/put-checks`)
      .set('Authorization', as(org))
      .send(definition('put-checks', [{ key: 'x', agent: 'ghost' }]))
      .expect(400);
    expect(bad.body.details).toEqual([{ path: '$.steps[0].agent', message: 'unknown agent "ghost"', code: 'unknown_agent' }]);
    expect(await rowCount(org.id, 'put-checks')).toBe(1);
  });

  it('never lets concurrent PUTs both store the same version', async () => {
    await http().post(BASE).set('Authorization', as(org)).send(definition('racy-flow')).expect(201);
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        http()
          .put(`${BASE}/racy-flow`)
          .set('Authorization', as(org))
          .send(definition('racy-flow', [{ key: 'greet', agent: 'echo', input: { n } }])),
      ),
    );
    expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const saved = results.filter((r) => r.status === 200).map((r) => r.body.version as number);
    expect(saved.length).toBeGreaterThanOrEqual(1);
    expect(new Set(saved).size).toBe(saved.length);
    const rows: { version: number }[] = await dataSource.query(
      `SELECT version FROM orchestration_definitions WHERE organization_id = $1 AND slug = 'racy-flow' ORDER BY version`,
      [org.id],
    );
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: saved.length + 1 }, (_, i) => i + 1));
  });

  it('validates without saving: 200 with every problem and its path, or valid with the spec', async () => {
    const broken = {
      slug: 'Not A Slug',
      name: 'Broken',
      colour: 'blue',
      steps: [
        { key: 'a', agent: 'ghost', input: { x: '{{ steps.b.output }}' } },
        { key: 'b', agent: 'echo', dependsOn: ['a', 'missing'] },
        { key: 'b', agent: 'echo', input: { y: '{{ nope.x }}' } },
      ],
    };
    const res = await http().post(`${BASE}/validate`).set('Authorization', as(org)).send(broken).expect(200);
    expect(res.body.valid).toBe(false);
    expect(res.body.spec).toBeUndefined();
    const paths = res.body.problems.map((p: { path: string }) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '$.slug',
        '$.colour',
        '$.steps[0].agent',
        '$.steps[0].input.x',
        '$.steps[1].dependsOn[1]',
        '$.steps[2].key',
        '$.steps[2].input.y',
      ]),
    );
    for (const problem of res.body.problems)
      expect(problem).toEqual({ path: expect.stringMatching(/^\$/), message: expect.any(String), code: expect.any(String) });

    const yamlReport = await http()
      .post(`${BASE}/validate`)
      .set('Authorization', as(org))
      .set('Content-Type', 'application/yaml')
      .send(YAML_DEFINITION.replace('yaml-flow', 'yaml-check'))
      .expect(200);
    expect(yamlReport.body).toEqual({ valid: true, problems: [], spec: parse(YAML_DEFINITION.replace('yaml-flow', 'yaml-check')) });
    expect(await rowCount(org.id, 'yaml-check')).toBe(0);
  });

  it('knows the organization’s own agents and its active definitions as sub-orchestrations', async () => {
    await dataSource.query(
      `INSERT INTO agents (organization_id, slug, name, type, capabilities, config) VALUES ($1, 'house-agent', 'House', 'tool', '{}', '{}')`,
      [org.id],
    );
    const usesAgent = definition('uses-house', [{ key: 'work', agent: 'house-agent' }]);
    await http().post(BASE).set('Authorization', as(org)).send(usesAgent).expect(201);
    const elsewhere = await http().post(BASE).set('Authorization', as(other)).send(usesAgent).expect(400);
    expect(elsewhere.body.details).toEqual([{ path: '$.steps[0].agent', message: 'unknown agent "house-agent"', code: 'unknown_agent' }]);

    const parent = definition('parent-flow', [
      { key: 'items', agent: 'echo', input: { list: [1, 2] } },
      { key: 'fan', type: 'orchestration', orchestration: 'uses-house', forEach: '{{ steps.items.output.list }}', dependsOn: ['items'] },
    ]);
    await http().post(BASE).set('Authorization', as(org)).send(parent).expect(201);
    const missing = await http().post(BASE).set('Authorization', as(other)).send(parent).expect(400);
    expect(missing.body.details).toEqual([
      {
        path: '$.steps[1].orchestration',
        message: 'no active definition "uses-house" in this organization',
        code: 'unknown_orchestration',
      },
    ]);
  });

  it('diffs two versions: added, removed and changed steps', async () => {
    await http()
      .post(BASE)
      .set('Authorization', as(org))
      .send(
        definition('diff-flow', [
          { key: 'draft', agent: 'echo', input: { text: 'v1' } },
          { key: 'review', agent: 'echo', dependsOn: ['draft'] },
        ]),
      )
      .expect(201);
    await http()
      .put(`${BASE}/diff-flow`)
      .set('Authorization', as(org))
      .send(
        definition(
          'diff-flow',
          [
            { key: 'review', agent: 'flaky', input: { failTimes: 0 } },
            { key: 'publish', agent: 'echo', dependsOn: ['review'] },
          ],
          { name: 'Diff flow v2', concurrency: 2 },
        ),
      )
      .expect(200);
    const diff = await http().get(`${BASE}/diff-flow/diff?from=1&to=2`).set('Authorization', as(org, 'viewer')).expect(200);
    expect(diff.body).toEqual({
      slug: 'diff-flow',
      from: 1,
      to: 2,
      added: ['publish'],
      removed: ['draft'],
      changed: [{ key: 'review', fields: ['agent', 'dependsOn', 'input'] }],
      definitionChanges: ['concurrency', 'name'],
    });
    await http().get(`${BASE}/diff-flow/diff?from=1&to=9`).set('Authorization', as(org)).expect(404);
    await http().get(`${BASE}/diff-flow/diff?from=1`).set('Authorization', as(org)).expect(400);
  });

  it('archives: the latest is then 404 but ?version still reads; one version or all', async () => {
    await http().post(BASE).set('Authorization', as(org)).send(definition('archived-flow')).expect(201);
    await http().put(`${BASE}/archived-flow`).set('Authorization', as(org)).send({ ...definition('archived-flow'), description: 'v2' }).expect(200);

    const one = await http().delete(`${BASE}/archived-flow?version=2`).set('Authorization', as(org)).expect(200);
    expect(one.body).toEqual({ slug: 'archived-flow', version: 2, archived: 1 });
    expect((await http().get(`${BASE}/archived-flow`).set('Authorization', as(org)).expect(200)).body.version).toBe(1);

    const all = await http().delete(`${BASE}/archived-flow`).set('Authorization', as(org)).expect(200);
    expect(all.body).toEqual({ slug: 'archived-flow', version: null, archived: 1 });
    await http().get(`${BASE}/archived-flow`).set('Authorization', as(org)).expect(404);
    const v1 = await http().get(`${BASE}/archived-flow?version=1`).set('Authorization', as(org)).expect(200);
    expect(v1.body).toMatchObject({ version: 1, status: 'archived' });
    await http().delete(`${BASE}/archived-flow?version=7`).set('Authorization', as(org)).expect(404);

    // An archived definition is no longer a valid sub-orchestration.
    const parent = definition('uses-archived', [{ key: 'child', type: 'orchestration', orchestration: 'archived-flow' }]);
    await http().post(BASE).set('Authorization', as(org)).send(parent).expect(400);
  });

  it('lists with filters and pagination', async () => {
    const lister = await createTestOrganization(app, dataSource, 'defs-list');
    for (const slug of ['list-a', 'list-b', 'list-c', 'other-d', 'list-e']) {
      await http().post(BASE).set('Authorization', as(lister)).send(definition(slug)).expect(201);
    }
    await http().put(`${BASE}/list-a`).set('Authorization', as(lister)).send({ ...definition('list-a'), description: 'v2' }).expect(200);
    await http().delete(`${BASE}/list-c`).set('Authorization', as(lister)).expect(200);
    const slugs = (body: { items: { slug: string; version: number }[] }) => body.items.map((d) => `${d.slug}@${d.version}`);

    const page1 = await http().get(`${BASE}?limit=2&offset=0`).set('Authorization', as(lister, 'viewer')).expect(200);
    expect(page1.body).toMatchObject({ total: 5, limit: 2, offset: 0 });
    expect(slugs(page1.body)).toEqual(['list-a@2', 'list-b@1']);
    expect(page1.body.items[0]).toEqual({
      id: expect.any(String),
      slug: 'list-a',
      version: 2,
      name: 'Definition list-a',
      description: 'v2',
      status: 'active',
      createdBy: lister.users.admin.id,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const page3 = await http().get(`${BASE}?limit=2&offset=4`).set('Authorization', as(lister)).expect(200);
    expect(slugs(page3.body)).toEqual(['other-d@1']);

    expect(slugs((await http().get(`${BASE}?latestOnly=false`).set('Authorization', as(lister)).expect(200)).body)).toEqual([
      'list-a@2',
      'list-a@1',
      'list-b@1',
      'list-c@1',
      'list-e@1',
      'other-d@1',
    ]);
    expect(slugs((await http().get(`${BASE}?status=archived`).set('Authorization', as(lister)).expect(200)).body)).toEqual(['list-c@1']);
    expect(slugs((await http().get(`${BASE}?status=active&search=LIST`).set('Authorization', as(lister)).expect(200)).body)).toEqual([
      'list-a@2',
      'list-b@1',
      'list-e@1',
    ]);
    expect(slugs((await http().get(`${BASE}?slug=list-a&latestOnly=false`).set('Authorization', as(lister)).expect(200)).body)).toEqual([
      'list-a@2',
      'list-a@1',
    ]);

    await http().get(`${BASE}?limit=0`).set('Authorization', as(lister)).expect(400);
    await http().get(`${BASE}?status=deleted`).set('Authorization', as(lister)).expect(400);
    await http().get(`${BASE}?latestOnly=maybe`).set('Authorization', as(lister)).expect(400);
  });
});
