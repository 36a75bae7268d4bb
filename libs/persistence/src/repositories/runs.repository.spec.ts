import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openTestDataSource } from '#testing';
import { OrchestrationRunEntity } from '../entities/orchestration-run.entity.js';
import { RunsRepository, type NewRun } from './runs.repository.js';

interface Fixture {
  orgId: string;
  definitionId: string;
  slug: string;
}

/** An organization with one definition, written with plain SQL so this suite depends on nothing but the schema. */
async function fixture(ds: DataSource, label: string, slug = `def-${randomUUID().slice(0, 8)}`): Promise<Fixture> {
  const orgSlug = `${label}-${randomUUID().slice(0, 8)}`;
  const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [orgSlug]);
  const [definition] = await ds.query(
    `INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec) VALUES ($1, $2, 1, $2, $3) RETURNING id`,
    [org.id, slug, JSON.stringify({ slug, name: slug, steps: [] })],
  );
  return { orgId: org.id, definitionId: definition.id, slug };
}

const newRun = (f: Fixture, extra: Partial<NewRun> = {}): NewRun => ({
  definitionId: f.definitionId,
  definitionSlug: f.slug,
  definitionVersion: 1,
  input: { quarter: 'Q1' },
  ...extra,
});

describe('RunsRepository (PostgreSQL)', () => {
  let ds: DataSource;
  let runs: RunsRepository;

  beforeAll(async () => {
    ds = await openTestDataSource(4);
    runs = new RunsRepository(ds.getRepository(OrchestrationRunEntity));
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('creates a pending run with its input and defaults', async () => {
    const f = await fixture(ds, 'runs-create');
    const run = await runs.create(f.orgId, newRun(f, { priority: 5 }));
    expect(run).toMatchObject({
      organizationId: f.orgId,
      definitionId: f.definitionId,
      status: 'pending',
      priority: 5,
      lastSeq: 0,
      parentRunId: null,
    });
    const found = await runs.findById(f.orgId, run.id);
    expect(found).toMatchObject({
      id: run.id,
      input: { quarter: 'Q1' },
      definitionSlug: f.slug,
      definitionVersion: 1,
      startedAt: null,
      completedAt: null,
    });
    expect(found?.createdAt).toBeInstanceOf(Date);
  });

  it('links child runs to their parent', async () => {
    const f = await fixture(ds, 'runs-tree');
    const parent = await runs.create(f.orgId, newRun(f));
    const first = await runs.create(f.orgId, newRun(f, { parentRunId: parent.id, input: { i: 0 } }));
    const second = await runs.create(f.orgId, newRun(f, { parentRunId: parent.id, input: { i: 1 } }));
    await runs.create(f.orgId, newRun(f)); // unrelated
    const page = await runs.list(f.orgId, { parentRunId: parent.id }, { limit: 10, offset: 0 });
    expect(page.items.map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
    expect(page.total).toBe(2);
    expect((await runs.list(f.orgId, { parentRunId: first.id }, { limit: 10, offset: 0 })).items).toEqual([]);
  });

  it('filters by status, definition and creation time, newest first, with pagination', async () => {
    const f = await fixture(ds, 'runs-list');
    const other = await ds.query(
      `INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec) VALUES ($1, 'other', 1, 'other', '{}') RETURNING id`,
      [f.orgId],
    );
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await runs.create(f.orgId, newRun(f, { input: { i } }));
      // Fixed, distinct creation times make the time filters and the order exact.
      await ds.query(`UPDATE orchestration_runs SET created_at = $2 WHERE id = $1`, [run.id, `2025-01-0${i + 1}T12:00:00Z`]);
      created.push(run.id);
    }
    const otherRun = await runs.create(f.orgId, { ...newRun(f), definitionId: other[0].id, definitionSlug: 'other' });
    await ds.query(`UPDATE orchestration_runs SET status = 'running' WHERE id = ANY($1::uuid[])`, [[created[1], created[3]]]);

    const all = await runs.list(f.orgId, {}, { limit: 50, offset: 0 });
    expect(all.total).toBe(6);
    expect(all.items.map((r) => r.id)).toEqual([otherRun.id, ...[...created].reverse()]);

    const bySlug = await runs.list(f.orgId, { definition: f.slug }, { limit: 50, offset: 0 });
    expect(bySlug.items.map((r) => r.id)).toEqual([...created].reverse());
    expect((await runs.list(f.orgId, { definition: 'other' }, { limit: 50, offset: 0 })).items.map((r) => r.id)).toEqual([otherRun.id]);

    const running = await runs.list(f.orgId, { status: 'running' }, { limit: 50, offset: 0 });
    expect(running.items.map((r) => r.id)).toEqual([created[3], created[1]]);

    const window = await runs.list(
      f.orgId,
      { from: new Date('2025-01-02T00:00:00Z'), to: new Date('2025-01-04T00:00:00Z') },
      { limit: 50, offset: 0 },
    );
    expect(window.items.map((r) => r.id)).toEqual([created[2], created[1]]);
    const fromOnly = await runs.list(f.orgId, { definition: f.slug, from: new Date('2025-01-04T12:00:00Z') }, { limit: 50, offset: 0 });
    expect(fromOnly.items.map((r) => r.id)).toEqual([created[4], created[3]]);

    const page1 = await runs.list(f.orgId, { definition: f.slug }, { limit: 2, offset: 0 });
    const page2 = await runs.list(f.orgId, { definition: f.slug }, { limit: 2, offset: 2 });
    const page3 = await runs.list(f.orgId, { definition: f.slug }, { limit: 2, offset: 4 });
    expect(page1).toMatchObject({ total: 5, limit: 2, offset: 0 });
    expect([...page1.items, ...page2.items, ...page3.items].map((r) => r.id)).toEqual([...created].reverse());
    expect(page3.items).toHaveLength(1);
    expect((await runs.list(f.orgId, { definition: f.slug }, { limit: 2, offset: 10 })).items).toEqual([]);
  });

  it('keeps idempotency keys unique per organization only', async () => {
    const a = await fixture(ds, 'runs-idem-a');
    const b = await fixture(ds, 'runs-idem-b');
    const key = `key-${randomUUID()}`;
    const first = await runs.create(a.orgId, newRun(a, { idempotencyKey: key }));
    await expect(runs.create(a.orgId, newRun(a, { idempotencyKey: key }))).rejects.toMatchObject({ code: '23505' });
    const elsewhere = await runs.create(b.orgId, newRun(b, { idempotencyKey: key }));
    expect(elsewhere.id).not.toBe(first.id);
    expect((await runs.findByIdempotencyKey(a.orgId, key))?.id).toBe(first.id);
    expect((await runs.findByIdempotencyKey(b.orgId, key))?.id).toBe(elsewhere.id);
    // Runs without a key never collide.
    await runs.create(a.orgId, newRun(a));
    await runs.create(a.orgId, newRun(a));
  });

  it('hides a soft-deleted run from reads and lists', async () => {
    const f = await fixture(ds, 'runs-delete');
    const parent = await runs.create(f.orgId, newRun(f));
    const run = await runs.create(f.orgId, newRun(f, { parentRunId: parent.id }));
    await ds.query(`UPDATE orchestration_runs SET deleted_at = now() WHERE id = $1`, [run.id]);
    expect(await runs.findById(f.orgId, run.id)).toBeNull();
    expect((await runs.list(f.orgId, {}, { limit: 50, offset: 0 })).items.map((r) => r.id)).toEqual([parent.id]);
    expect((await runs.list(f.orgId, { parentRunId: parent.id }, { limit: 50, offset: 0 })).items).toEqual([]);
  });

  it("finds nothing of another organization's runs", async () => {
    const mine = await fixture(ds, 'runs-tenant-a');
    const theirs = await fixture(ds, 'runs-tenant-b');
    const key = `key-${randomUUID()}`;
    const run = await runs.create(mine.orgId, newRun(mine, { idempotencyKey: key }));
    const child = await runs.create(mine.orgId, newRun(mine, { parentRunId: run.id }));
    expect(child.parentRunId).toBe(run.id);

    expect(await runs.findById(theirs.orgId, run.id)).toBeNull();
    expect(await runs.findByIdempotencyKey(theirs.orgId, key)).toBeNull();
    expect(await runs.list(theirs.orgId, {}, { limit: 50, offset: 0 })).toMatchObject({ items: [], total: 0 });
    expect(await runs.list(theirs.orgId, { parentRunId: run.id }, { limit: 50, offset: 0 })).toMatchObject({ items: [], total: 0 });
    expect(await runs.findById(mine.orgId, run.id)).toMatchObject({ status: 'pending', deletedAt: null });
  });
});
