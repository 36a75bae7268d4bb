/**
 * Step output caching end to end, through the API: a step with `cache: { key, ttlMs }` reuses the output an earlier
 * real call of its agent produced for the same rendered key (per organization and agent), within the TTL, without
 * calling the agent (step.completed with `cached: true`, step.started with `cache: hit|miss`, hit/miss metrics);
 * a different key or an expired entry calls the agent again; another organization never sees the entry. Definitions
 * are validated on save (4xx with paths). And the in-memory definition cache that run starts read is invalidated on a
 * new version: in the process that saved it at once, in another process by NOTIFY.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AgentRunnerRegistry } from '#agents';
import type { DefinitionSpec } from '#core';
import { ActiveDefinitions } from '#engine';
import { createTestOrganization, testConfig, waitFor, waitForRun, type TestOrganization } from '#testing';
import { createApp } from '../apps/api/src/bootstrap.js';
import { ModeRunner } from './agents-test-runner.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const TOKEN = 'step-cache-metrics-token-0123456789';

interface EventRow {
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
}

describe('step output caching (e2e)', () => {
  let h: ScratchApp;
  let other: TestOrganization;
  const runner = new ModeRunner();

  beforeAll(async () => {
    h = await openScratchApp('stepcache', { metricsToken: TOKEN, metricsPort: 0 });
    h.app.get(AgentRunnerRegistry).register(runner);
    other = await createTestOrganization(h.app, h.scratch.dataSource, 'stepcache-other');
    for (const token of [h.org.users.admin.token, other.users.admin.token])
      await h
        .http()
        .post('/agents')
        .set('Authorization', `Bearer ${token}`)
        .send({ slug: 'lookup', name: 'lookup', type: 'function', config: { mode: 'ok' } })
        .expect(201);
  });

  afterAll(async () => {
    await h?.close();
  });

  const as = (org: TestOrganization, role: keyof TestOrganization['users'] = 'admin') => ({
    Authorization: `Bearer ${org.users[role].token}`,
  });
  let n = 0;
  const cachedSpec = (slug: string, ttlMs: number): DefinitionSpec => ({
    slug,
    name: slug,
    input: { type: 'object', required: ['q'], properties: { q: { type: 'string' } } },
    steps: [
      { key: 'fetch', agent: 'lookup', input: { q: '{{ input.q }}' }, cache: { key: 'q={{ input.q }}', ttlMs } },
      { key: 'after', agent: 'echo', dependsOn: ['fetch'], input: { got: '{{ steps.fetch.output }}' } },
    ],
  });
  const create = async (org: TestOrganization, spec: DefinitionSpec) =>
    h.http().post('/orchestrations/definitions').set(as(org)).send(spec).expect(201);
  const run = async (org: TestOrganization, definition: string, q: string) => {
    const id = (await h.http().post('/orchestrations/runs').set(as(org, 'operator')).send({ definition, input: { q } }).expect(201)).body
      .id as string;
    return waitForRun(h.app, org.users.operator.token, id, ['completed', 'failed']);
  };
  const events = async (org: TestOrganization, runId: string) =>
    (await h.http().get(`/orchestrations/runs/${runId}/events`).set(as(org, 'viewer')).expect(200)).body.items as EventRow[];
  const fetchEvents = async (org: TestOrganization, runId: string) => {
    const all = await events(org, runId);
    return {
      started: all.find((e) => e.type === 'step.started' && e.stepKey === 'fetch')?.payload,
      completed: all.find((e) => e.type === 'step.completed' && e.stepKey === 'fetch')?.payload,
    };
  };
  const calls = () => runner.calls.get('lookup') ?? 0;
  const metric = async (result: 'hit' | 'miss') => {
    const text = (await h.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200)).text;
    const line = text
      .split('\n')
      .find((l) => l.startsWith('baton_step_cache_lookups_total{') && l.includes('agent="lookup"') && l.includes(`result="${result}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('reuses a completed output for the same key without calling the agent, and says so', async () => {
    const slug = `cached-${++n}`;
    await create(h.org, cachedSpec(slug, 60_000));
    const [hits, misses, before] = [await metric('hit'), await metric('miss'), calls()];

    const first = await run(h.org, slug, 'alpha');
    expect(first.status).toBe('completed');
    expect(calls()).toBe(before + 1);
    const miss = await fetchEvents(h.org, first.id);
    expect(miss.started).toMatchObject({ cache: 'miss' });
    expect(miss.completed).not.toHaveProperty('cached');

    const second = await run(h.org, slug, 'alpha');
    expect(second.status).toBe('completed');
    expect(calls()).toBe(before + 1); // not called again
    expect(second.output).toEqual(first.output); // the dependent step saw the reused output
    const hit = await fetchEvents(h.org, second.id);
    expect(hit.started).toMatchObject({ cache: 'hit' });
    expect(hit.completed).toMatchObject({ cached: true, output: miss.completed?.output });

    expect(await metric('hit')).toBe(hits + 1);
    expect(await metric('miss')).toBe(misses + 1);
  });

  it('calls the agent for a different key', async () => {
    const slug = `cached-${++n}`;
    await create(h.org, cachedSpec(slug, 60_000));
    const before = calls();
    await run(h.org, slug, 'one');
    const other = await run(h.org, slug, 'two');
    expect(calls()).toBe(before + 2);
    expect((await fetchEvents(h.org, other.id)).completed).not.toHaveProperty('cached');
    // The same key across definitions of the organization is the same entry (per organization and agent, not per step).
    const twin = `cached-${++n}`;
    await create(h.org, cachedSpec(twin, 60_000));
    await run(h.org, twin, 'two');
    expect(calls()).toBe(before + 2);
  });

  it('calls the agent again once the entry has expired', async () => {
    const slug = `cached-${++n}`;
    await create(h.org, cachedSpec(slug, 400));
    const before = calls();
    await run(h.org, slug, 'ttl');
    const reused = await run(h.org, slug, 'ttl');
    // A slow machine may take the second run past the TTL: then it called the agent, and the check below still holds.
    const reusedAt = calls();
    expect(reusedAt - before).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 500));
    const expired = await run(h.org, slug, 'ttl');
    expect(calls()).toBe(reusedAt + 1);
    expect((await fetchEvents(h.org, expired.id)).started).toMatchObject({ cache: 'miss' });
    if (reusedAt === before + 1) expect((await fetchEvents(h.org, reused.id)).completed).toMatchObject({ cached: true });
  });

  it('never reuses another organization’s output', async () => {
    const slug = `cached-${++n}`;
    await create(h.org, cachedSpec(slug, 60_000));
    await create(other, cachedSpec(slug, 60_000));
    await run(h.org, slug, 'shared-key');
    const before = calls();
    const theirs = await run(other, slug, 'shared-key');
    expect(calls()).toBe(before + 1);
    expect((await fetchEvents(other, theirs.id)).completed).not.toHaveProperty('cached');
    // Each organization reuses its own entry.
    await run(other, slug, 'shared-key');
    await run(h.org, slug, 'shared-key');
    expect(calls()).toBe(before + 1);
  });

  it('does not answer for a disabled agent', async () => {
    await h
      .http()
      .post('/agents')
      .set(as(h.org))
      .send({ slug: 'lookup-off', name: 'lookup-off', type: 'function', config: { mode: 'ok' } })
      .expect(201);
    const slug = `cached-${++n}`;
    const spec = cachedSpec(slug, 60_000);
    spec.steps[0].agent = 'lookup-off';
    await create(h.org, spec);
    expect((await run(h.org, slug, 'off')).status).toBe('completed');
    await h.http().delete('/agents/lookup-off').set(as(h.org)).expect(204);
    // Agent rows are cached by the workers for a few seconds: the disable shows within that.
    const failed = await waitFor(
      async () => {
        const r = await run(h.org, slug, 'off');
        return r.status === 'failed' ? r : null;
      },
      10_000,
      'a run of the disabled agent to fail',
    );
    expect(JSON.stringify(failed.error)).toContain('AGENT_DISABLED');
  });

  it('refuses cache where it cannot apply, with the path of the problem', async () => {
    const bad = async (steps: DefinitionSpec['steps']) =>
      (
        await h
          .http()
          .post('/orchestrations/definitions/validate')
          .set(as(h.org))
          .send({ slug: 'bad-cache', name: 'bad', steps })
          .expect(200)
      ).body;
    const onApproval = await bad([{ key: 'gate', type: 'approval', approval: { prompt: 'ok?' }, cache: { key: 'k', ttlMs: 1000 } }]);
    expect(onApproval.problems).toContainEqual(expect.objectContaining({ path: '$.steps[0].cache', code: 'step_shape' }));
    const withApproval = await bad([{ key: 'a', agent: 'lookup', approval: { prompt: 'ok?' }, cache: { key: 'k', ttlMs: 1000 } }]);
    expect(withApproval.problems).toContainEqual(expect.objectContaining({ path: '$.steps[0].cache', code: 'step_shape' }));
    const noTtl = await bad([{ key: 'a', agent: 'lookup', cache: { key: 'k' } as never }]);
    expect(noTtl.valid).toBe(false);
    expect(JSON.stringify(noTtl.problems)).toContain('ttlMs');
    const notUpstream = await bad([
      { key: 'a', agent: 'lookup', cache: { key: '{{ steps.b.output }}', ttlMs: 1000 } },
      { key: 'b', agent: 'echo' },
    ]);
    expect(notUpstream.problems).toContainEqual(expect.objectContaining({ path: '$.steps[0].cache.key', code: 'not_upstream' }));
    const saved = await h
      .http()
      .post('/orchestrations/definitions')
      .set(as(h.org))
      .send({ slug: 'bad-cache', name: 'bad', steps: [{ key: 'a', agent: 'lookup', cache: { key: 'k', ttlMs: 0 } }] })
      .expect(400);
    expect(saved.body.details).toContainEqual(expect.objectContaining({ path: expect.stringContaining('ttlMs') }));
  });

  it('starts runs from the new version as soon as one is saved, in this process and in another', async () => {
    const slug = `versioned-${++n}`;
    const spec = (marker: string): DefinitionSpec => ({ slug, name: slug, steps: [{ key: 'say', agent: 'echo', input: { marker } }] });
    await create(h.org, spec('v1'));
    const active = h.app.get(ActiveDefinitions);
    const start = async (app: INestApplication) =>
      (
        await request(app.getHttpServer())
          .post('/orchestrations/runs')
          .set(as(h.org, 'operator'))
          .send({ definition: slug, input: {} })
          .expect(201)
      ).body;
    expect((await start(h.app)).version).toBe(1);
    // The save's own NOTIFY may land after the first start cached v1 and drop it once: after that, starts are served
    // from memory (a start reads no definition row).
    await waitFor(
      async () => {
        const hits = active.stats.hits;
        expect((await start(h.app)).version).toBe(1);
        return active.stats.hits === hits + 1;
      },
      10_000,
      'a start served from the cache',
    );

    // A second process on the same database (API only), which caches v1 too.
    const second = await createApp(testConfig({ databaseUrl: h.scratch.url, role: 'api' }));
    await second.init();
    try {
      const secondActive = second.get(ActiveDefinitions);
      expect((await start(second)).version).toBe(1);
      const secondHits = secondActive.stats.hits;
      expect((await start(second)).version).toBe(1);
      expect(secondActive.stats.hits).toBe(secondHits + 1);

      // A new version through the API of the first process: its next start uses it at once...
      await h.http().put(`/orchestrations/definitions/${slug}`).set(as(h.org)).send(spec('v2')).expect(200);
      expect((await start(h.app)).version).toBe(2);
      // ...and the second process drops its copy when the NOTIFY arrives.
      await waitFor(async () => (await start(second)).version === 2, 5_000, 'the second process to start v2');

      // Archiving (DELETE) reaches the caches too: no active version, no run.
      await h.http().delete(`/orchestrations/definitions/${slug}`).set(as(h.org)).expect(200);
      await request(h.app.getHttpServer())
        .post('/orchestrations/runs')
        .set(as(h.org, 'operator'))
        .send({ definition: slug, input: {} })
        .expect(404);
      await waitFor(
        async () =>
          (
            await request(second.getHttpServer())
              .post('/orchestrations/runs')
              .set(as(h.org, 'operator'))
              .send({ definition: slug, input: {} })
          ).status === 404,
        5_000,
        'the second process to see the archive',
      );
    } finally {
      await second.close();
    }
  });
});
