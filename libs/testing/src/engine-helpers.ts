import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';

/** Stores a definition version directly (engine suites do not depend on the definitions API). */
export async function insertDefinition(dataSource: DataSource, organizationId: string, spec: DefinitionSpec, version = 1): Promise<string> {
  const [row] = await dataSource.query(
    `INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec, status) VALUES ($1, $2, $3, $4, $5, 'active') RETURNING id`,
    [organizationId, spec.slug, version, spec.name, JSON.stringify(spec)],
  );
  return row.id;
}

export interface RunBody {
  id: string;
  status: string;
  output: unknown;
  error: unknown;
  steps?: { key: string; status: string; attempt: number; input: unknown; output: unknown; error: unknown }[];
}

/** Polls GET /orchestrations/runs/:id until the run reaches one of `statuses` (or fails the test after timeoutMs). */
export async function waitForRun(app: INestApplication, token: string, runId: string, statuses: string[], timeoutMs = 20_000): Promise<RunBody> {
  const deadline = Date.now() + timeoutMs;
  let last: RunBody | undefined;
  while (Date.now() < deadline) {
    const res = await request(app.getHttpServer()).get(`/orchestrations/runs/${runId}`).set('Authorization', `Bearer ${token}`);
    last = res.body as RunBody;
    if (statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
