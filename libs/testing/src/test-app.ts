import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { loadConfig, type AppConfig } from '#config';
import type { Role } from '#core';
import { hashPassword } from '#identity';
import { createDataSource } from '#persistence';
import type { DataSource } from 'typeorm';
import { TEST_DATABASE_ENV } from './test-database.js';

export function testDatabaseUrl(): string {
  const url = process.env[TEST_DATABASE_ENV];
  if (!url) throw new Error(`${TEST_DATABASE_ENV} is not set: run tests through jest (globalSetup creates the database)`);
  return url;
}

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return { ...loadConfig({ ...process.env, DATABASE_URL: testDatabaseUrl() }), autoMigrate: false, ...overrides };
}

/** A DataSource on the run's test database, for suites that work below the HTTP layer. */
export async function openTestDataSource(poolSize = 5): Promise<DataSource> {
  const dataSource = createDataSource(testDatabaseUrl(), poolSize);
  await dataSource.initialize();
  return dataSource;
}

export interface TestOrganization {
  id: string;
  slug: string;
  users: Record<Role, { id: string; email: string; password: string; token: string }>;
}

const PASSWORD = 'correct-horse-battery';
let cachedHash: string | undefined;

/** A fresh organization with one user per role, each logged in through the real /auth/login. */
export async function createTestOrganization(app: INestApplication, dataSource: DataSource, label = 'org'): Promise<TestOrganization> {
  const slug = `${label}-${randomUUID().slice(0, 8)}`;
  const [org] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [slug]);
  cachedHash ??= await hashPassword(PASSWORD);
  const users = {} as TestOrganization['users'];
  for (const role of ['admin', 'operator', 'approver', 'viewer'] as Role[]) {
    const email = `${role}@${slug}.test`;
    const [user] = await dataSource.query(
      `INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING id`,
      [org.id, email, cachedHash, role],
    );
    const login = await request(app.getHttpServer()).post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    users[role] = { id: user.id, email, password: PASSWORD, token: login.body.access_token };
  }
  return { id: org.id, slug, users };
}

/** An admin of the platform organization `global` (created when missing), logged in: may manage organizations. */
export async function createPlatformAdmin(app: INestApplication, dataSource: DataSource): Promise<TestOrganization['users']['admin'] & { organizationId: string }> {
  await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('global', 'global') ON CONFLICT DO NOTHING`);
  const [org] = await dataSource.query(`SELECT id FROM organizations WHERE slug = 'global'`);
  cachedHash ??= await hashPassword(PASSWORD);
  const email = `platform-${randomUUID().slice(0, 8)}@global.test`;
  const [user] = await dataSource.query(
    `INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, $2, $3, 'admin') RETURNING id`,
    [org.id, email, cachedHash],
  );
  const login = await request(app.getHttpServer()).post('/auth/login').send({ email, password: PASSWORD }).expect(200);
  return { id: user.id, email, password: PASSWORD, token: login.body.access_token, organizationId: org.id };
}
