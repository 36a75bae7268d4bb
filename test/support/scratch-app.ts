/**
 * An app on a database of its own (see openScratchDatabase) with one test organization: for suites that count rows
 * or wait on steps no other suite's worker may claim (on the shared test database, another suite's worker could take
 * them). `listen`: serve HTTP on 127.0.0.1 (for agents, SSE and WebSocket clients that need a real address).
 */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { AppConfig } from '#config';
import type { DefinitionSpec, Role } from '#core';
import { createTestOrganization, insertDefinition, openScratchDatabase, testConfig, type ScratchDatabase, type TestOrganization } from '#testing';
import { createApp } from '../../apps/api/src/bootstrap.js';

export interface ScratchApp {
  app: INestApplication;
  scratch: ScratchDatabase;
  org: TestOrganization;
  /** http://127.0.0.1:<port> when listening, else ''. */
  base: string;
  http(): ReturnType<typeof request>;
  /** The Authorization header of a user of the organization (default: the operator). */
  auth(role?: Role): { Authorization: string };
  /** Stores an active definition under a fresh slug (`<label>-<n>-<time>`, or `slug` when given); returns the slug. */
  define(spec: Omit<DefinitionSpec, 'slug' | 'name'>, slug?: string): Promise<string>;
  /** Another organization with a user of each role (for tenant-isolation checks). */
  organization(label: string): Promise<TestOrganization>;
  close(): Promise<void>;
}

export async function openScratchApp(label: string, overrides: Partial<AppConfig> = {}, options: { poolSize?: number; listen?: boolean } = {}): Promise<ScratchApp> {
  const scratch = await openScratchDatabase(label, options.poolSize ?? 3);
  const app = await createApp(testConfig({ databaseUrl: scratch.url, pollIntervalMs: 200, ...overrides }));
  let base = '';
  if (options.listen) {
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  } else await app.init();
  const org = await createTestOrganization(app, scratch.dataSource, label);
  let defined = 0;
  return {
    app,
    scratch,
    org,
    base,
    http: () => request(app.getHttpServer()),
    auth: (role: Role = 'operator') => ({ Authorization: `Bearer ${org.users[role].token}` }),
    async define(spec, slug = `${label}-${++defined}-${Date.now().toString(36)}`) {
      await insertDefinition(scratch.dataSource, org.id, { slug, name: slug, ...spec });
      return slug;
    },
    organization: (other) => createTestOrganization(app, scratch.dataSource, other),
    async close() {
      await app.close();
      await scratch.drop();
    },
  };
}
