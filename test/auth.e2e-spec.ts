import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { parseApiKey } from '#identity';
import { createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

describe('auth (e2e)', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let org: TestOrganization;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    dataSource = await openTestDataSource();
    org = await createTestOrganization(app, dataSource, 'auth');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await app?.close();
  });

  const http = () => request(app.getHttpServer());

  it('logs in with the right password and returns a bearer JWT', async () => {
    const res = await http().post('/auth/login').send({ email: org.users.admin.email, password: org.users.admin.password }).expect(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
  });

  it('answers 401 in the error shape for a wrong password or an unknown email', async () => {
    for (const body of [
      { email: org.users.admin.email, password: 'wrong-password' },
      { email: `nobody@${org.slug}.test`, password: 'whatever' },
    ]) {
      const res = await http().post('/auth/login').send(body).expect(401);
      expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid email or password' });
    }
  });

  it('rejects unknown fields and malformed bodies with 400', async () => {
    const res = await http().post('/auth/login').send({ email: org.users.admin.email, password: 'x', extra: 1 }).expect(400);
    expect(res.body.details).toEqual([{ path: '$.extra', message: 'property extra should not exist' }]);
    await http().post('/auth/login').set('Content-Type', 'application/json').send('{nope').expect(400);
  });

  it('guards everything but health, ready, docs and login', async () => {
    await http().get('/health').expect(200);
    await http().get('/ready').expect(200);
    await http().get('/docs-json').expect(200);
    await http().get('/api-keys').expect(401);
    await http().get('/api-keys').set('Authorization', 'Bearer not-a-token').expect(401);
    await http().get('/api-keys').set('Authorization', `Bearer ${org.users.admin.token}x`).expect(401);
  });

  it('issues API keys (admin only) that authenticate as bearer tokens, until revoked', async () => {
    await http().post('/api-keys').set('Authorization', `Bearer ${org.users.operator.token}`).send({ name: 'k', role: 'viewer' }).expect(403);
    const created = await http().post('/api-keys').set('Authorization', `Bearer ${org.users.admin.token}`).send({ name: 'ci', role: 'admin' }).expect(201);
    expect(created.body.key).toMatch(/^bk_[0-9a-f]{12}_/);
    const list = await http().get('/api-keys').set('Authorization', `Bearer ${created.body.key}`).expect(200);
    expect(list.body).toMatchObject({ total: expect.any(Number), limit: 20, offset: 0 });
    expect(list.body.items.map((k: { id: string }) => k.id)).toContain(created.body.id);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    const [row] = await dataSource.query('SELECT key_hash FROM api_keys WHERE id = $1', [created.body.id]);
    const parsed = parseApiKey(created.body.key);
    expect(parsed?.secret).toHaveLength(32);
    expect(row.key_hash).not.toContain(parsed?.secret);
    await http().delete(`/api-keys/${created.body.id}`).set('Authorization', `Bearer ${org.users.admin.token}`).expect(204);
    await http().get('/api-keys').set('Authorization', `Bearer ${created.body.key}`).expect(401);
  });

  it('echoes a request id on every response', async () => {
    const res = await http().get('/health').set('X-Request-Id', 'abc-123').expect(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
    const generated = await http().get('/health').expect(200);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
