import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec, DefinitionStatus } from '#core';
import { openTestDataSource } from '#testing';
import { OrchestrationDefinitionEntity } from '../entities/orchestration-definition.entity.js';
import { DefinitionsRepository, DefinitionVersionTaken } from './definitions.repository.js';
import { DefinitionChanges } from './definition-changes.js';

async function organization(ds: DataSource, label: string): Promise<string> {
  const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [
    `${label}-${randomUUID().slice(0, 8)}`,
  ]);
  return org.id;
}

const spec = (slug: string, name = slug, agent = 'echo'): DefinitionSpec => ({
  slug,
  name,
  steps: [{ key: 'only', agent, input: { text: '{{ input.x }}' } }],
});
const version = (slug: string, status: DefinitionStatus = 'active', name = slug) => ({ spec: spec(slug, name), status, createdBy: null });

describe('DefinitionsRepository (PostgreSQL)', () => {
  let ds: DataSource;
  let definitions: DefinitionsRepository;

  beforeAll(async () => {
    ds = await openTestDataSource(4);
    definitions = new DefinitionsRepository(ds.getRepository(OrchestrationDefinitionEntity), new DefinitionChanges());
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('inserts versions and reads them back by id, by version and as the latest', async () => {
    const org = await organization(ds, 'defs-crud');
    const v1 = await definitions.insertVersion(org, 1, {
      spec: { ...spec('crud'), description: 'first' },
      status: 'active',
      createdBy: null,
    });
    expect(v1).toMatchObject({
      organizationId: org,
      slug: 'crud',
      version: 1,
      name: 'crud',
      description: 'first',
      status: 'active',
      createdBy: null,
    });
    expect(v1.createdAt).toBeInstanceOf(Date);
    await definitions.insertVersion(org, 2, version('crud', 'active', 'Crud two'));

    expect(await definitions.findById(org, v1.id)).toMatchObject({ id: v1.id, spec: { ...spec('crud'), description: 'first' } });
    expect(await definitions.findVersion(org, 'crud', 2)).toMatchObject({ version: 2, name: 'Crud two' });
    expect(await definitions.findVersion(org, 'crud', 3)).toBeNull();
    expect(await definitions.findLatest(org, 'crud')).toMatchObject({ version: 2 });
    expect((await definitions.listVersions(org, 'crud')).map((d) => d.version)).toEqual([1, 2]);
  });

  it('refuses a second row with the same organization, slug and version', async () => {
    const org = await organization(ds, 'defs-unique');
    await definitions.insertVersion(org, 1, version('unique'));
    await expect(definitions.insertVersion(org, 1, version('unique'))).rejects.toBeInstanceOf(DefinitionVersionTaken);
    // Concurrent inserts of the same next version: exactly one wins.
    const results = await Promise.allSettled([2, 2, 2].map((v) => definitions.insertVersion(org, v, version('unique'))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof DefinitionVersionTaken),
    ).toBe(true);
    // Another organization may use the same slug and version.
    const other = await organization(ds, 'defs-unique-other');
    await expect(definitions.insertVersion(other, 1, version('unique'))).resolves.toMatchObject({ organizationId: other, version: 1 });
  });

  it('finds the latest active version, skipping archived and draft versions', async () => {
    const org = await organization(ds, 'defs-latest');
    await definitions.insertVersion(org, 1, version('flow'));
    await definitions.insertVersion(org, 2, version('flow'));
    await definitions.insertVersion(org, 3, version('flow', 'draft'));
    expect(await definitions.findLatestActive(org, 'flow')).toMatchObject({ version: 2 });
    expect(await definitions.archive(org, 'flow', 2)).toBe(1);
    expect(await definitions.findLatestActive(org, 'flow')).toMatchObject({ version: 1 });
    expect(await definitions.findLatest(org, 'flow')).toMatchObject({ version: 3, status: 'draft' });
    expect(await definitions.activeSlugs(org, ['flow', 'nothing'])).toEqual(new Set(['flow']));
  });

  it('archives one version or all, counting only versions whose status changed', async () => {
    const org = await organization(ds, 'defs-archive');
    for (const v of [1, 2, 3]) await definitions.insertVersion(org, v, version('old'));
    expect(await definitions.archive(org, 'old', 1)).toBe(1);
    expect(await definitions.archive(org, 'old', 1)).toBe(0);
    expect(await definitions.archive(org, 'old')).toBe(2);
    expect(await definitions.archive(org, 'old')).toBe(0);
    expect(await definitions.findLatestActive(org, 'old')).toBeNull();
    expect(await definitions.findVersion(org, 'old', 2)).toMatchObject({ status: 'archived' });
    expect(await definitions.activeSlugs(org, ['old'])).toEqual(new Set());
    expect(await definitions.setStatus(org, 'old', 'active', 3)).toBe(1);
    expect(await definitions.findLatestActive(org, 'old')).toMatchObject({ version: 3 });
  });

  it('lists with filters and pagination, latest versions only when asked', async () => {
    const org = await organization(ds, 'defs-list');
    await definitions.insertVersion(org, 1, version('alpha', 'active', 'Quarterly KPI'));
    await definitions.insertVersion(org, 2, version('alpha', 'active', 'Quarterly KPI v2'));
    await definitions.insertVersion(org, 1, version('beta', 'active', 'Invoices'));
    await definitions.insertVersion(org, 1, version('gamma', 'archived', 'Old reports'));
    await definitions.insertVersion(org, 1, version('kpi-delta', 'active', 'Delta'));
    await definitions.insertVersion(org, 1, version('under_score', 'active', 'Underscore 100%'));
    const all = { limit: 50, offset: 0 };
    const rows = (page: { items: { slug: string; version: number }[] }) => page.items.map((d) => `${d.slug}@${d.version}`);

    const everything = await definitions.findByOrganization(org, {}, all);
    expect(everything.total).toBe(6);
    expect(rows(everything)).toEqual(['alpha@2', 'alpha@1', 'beta@1', 'gamma@1', 'kpi-delta@1', 'under_score@1']);

    expect(rows(await definitions.findByOrganization(org, { latestOnly: true }, all))).toEqual([
      'alpha@2',
      'beta@1',
      'gamma@1',
      'kpi-delta@1',
      'under_score@1',
    ]);
    expect(rows(await definitions.findByOrganization(org, { status: 'archived' }, all))).toEqual(['gamma@1']);
    expect(rows(await definitions.findByOrganization(org, { status: 'active', latestOnly: true }, all))).toEqual([
      'alpha@2',
      'beta@1',
      'kpi-delta@1',
      'under_score@1',
    ]);
    expect(rows(await definitions.findByOrganization(org, { slug: 'alpha' }, all))).toEqual(['alpha@2', 'alpha@1']);
    // search matches slug or name, case-insensitively, with LIKE wildcards taken literally
    expect(rows(await definitions.findByOrganization(org, { search: 'kpi', latestOnly: true }, all))).toEqual(['alpha@2', 'kpi-delta@1']);
    expect(rows(await definitions.findByOrganization(org, { search: '100%' }, all))).toEqual(['under_score@1']);
    expect(rows(await definitions.findByOrganization(org, { search: '_' }, all))).toEqual(['under_score@1']);

    const first = await definitions.findByOrganization(org, { latestOnly: true }, { limit: 2, offset: 0 });
    const second = await definitions.findByOrganization(org, { latestOnly: true }, { limit: 2, offset: 2 });
    const last = await definitions.findByOrganization(org, { latestOnly: true }, { limit: 2, offset: 4 });
    expect([first.total, second.total, last.total]).toEqual([5, 5, 5]);
    expect([...rows(first), ...rows(second), ...rows(last)]).toEqual(['alpha@2', 'beta@1', 'gamma@1', 'kpi-delta@1', 'under_score@1']);
    expect(first).toMatchObject({ limit: 2, offset: 0 });
    expect(last.items).toHaveLength(1);
  });

  it('never reads or changes another organization’s definitions', async () => {
    const mine = await organization(ds, 'defs-tenant-a');
    const theirs = await organization(ds, 'defs-tenant-b');
    const row = await definitions.insertVersion(theirs, 1, version('secret'));

    expect(await definitions.findById(mine, row.id)).toBeNull();
    expect(await definitions.findVersion(mine, 'secret', 1)).toBeNull();
    expect(await definitions.findLatest(mine, 'secret')).toBeNull();
    expect(await definitions.findLatestActive(mine, 'secret')).toBeNull();
    expect(await definitions.listVersions(mine, 'secret')).toEqual([]);
    expect(await definitions.activeSlugs(mine, ['secret'])).toEqual(new Set());
    expect((await definitions.findByOrganization(mine, {}, { limit: 10, offset: 0 })).total).toBe(0);
    expect(await definitions.archive(mine, 'secret')).toBe(0);
    expect(await definitions.setStatus(mine, 'secret', 'archived')).toBe(0);
    expect(await definitions.findLatestActive(theirs, 'secret')).toMatchObject({ id: row.id, status: 'active' });
  });
});
