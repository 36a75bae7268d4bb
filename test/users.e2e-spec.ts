/**
 * Organizations and users through the API: platform admins (organization `global`) create tenants and their first
 * admin; admins manage their own organization's users; disabling a user or deleting an API key stops its tokens at once
 * (through this instance; through another, within BATON_AUTH_CACHE_MS).
 */
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createPlatformAdmin, createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

describe('organizations and users (e2e)', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let org: TestOrganization;
  let platform: Awaited<ReturnType<typeof createPlatformAdmin>>;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    dataSource = await openTestDataSource();
    org = await createTestOrganization(app, dataSource, 'users');
    platform = await createPlatformAdmin(app, dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await app?.close();
  });

  const http = () => request(app.getHttpServer());
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const login = (email: string, password: string) => http().post('/auth/login').send({ email, password });

  it('lets a platform admin create an organization and its first admin, who then works inside it only', async () => {
    const slug = `acme-${randomUUID().slice(0, 8)}`;
    const created = await http().post('/organizations').set(bearer(platform.token)).send({ slug, name: 'Acme' }).expect(201);
    expect(created.body).toEqual({ id: expect.any(String), slug, name: 'Acme', createdAt: expect.any(String) });
    await http().post('/organizations').set(bearer(platform.token)).send({ slug }).expect(409);
    const list = await http().get('/organizations?limit=200').set(bearer(platform.token)).expect(200);
    expect(list.body).toMatchObject({ limit: 200, offset: 0, total: expect.any(Number) });
    expect(list.body.items.map((o: { slug: string }) => o.slug)).toEqual(expect.arrayContaining(['global', slug]));

    const email = `boss@${slug}.test`;
    const user = await http()
      .post('/users')
      .set(bearer(platform.token))
      .send({ email, password: 'long-enough-pw', role: 'admin', organization: slug })
      .expect(201);
    expect(user.body).toMatchObject({ organizationId: created.body.id, email, role: 'admin', disabledAt: null });
    await http().post('/users').set(bearer(platform.token)).send({ email, password: 'long-enough-pw', role: 'viewer', organization: slug }).expect(409);
    await http().post('/users').set(bearer(platform.token)).send({ email: `x${email}`, password: 'long-enough-pw', role: 'viewer', organization: 'no-such-org' }).expect(404);

    const token = (await login(email, 'long-enough-pw').expect(200)).body.access_token;
    const me = await http().get('/me').set(bearer(token)).expect(200);
    expect(me.body).toEqual({
      kind: 'user',
      id: user.body.id,
      userId: user.body.id,
      email,
      role: 'admin',
      organization: { id: created.body.id, slug, name: 'Acme' },
      platformAdmin: false,
    });
    expect((await http().get('/me').set(bearer(platform.token)).expect(200)).body.platformAdmin).toBe(true);
    // a tenant admin is not a platform admin
    await http().get('/organizations').set(bearer(token)).expect(403);
    await http().post('/organizations').set(bearer(token)).send({ slug: `${slug}-2` }).expect(403);
    const foreign = await http().post('/users').set(bearer(token)).send({ email: `y${email}`, password: 'long-enough-pw', role: 'viewer', organization: org.slug });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    // its users list holds its own users only
    const users = await http().get('/users').set(bearer(token)).expect(200);
    expect(users.body.items.map((u: { email: string }) => u.email)).toEqual([email]);
    expect(JSON.stringify(users.body)).not.toContain('password');
  });

  it('restricts users to admins and keeps them in the organization', async () => {
    for (const role of ['viewer', 'operator', 'approver'] as const) {
      await http().get('/users').set(bearer(org.users[role].token)).expect(403);
      await http().post('/users').set(bearer(org.users[role].token)).send({ email: `n@${org.slug}.test`, password: 'long-enough-pw', role: 'viewer' }).expect(403);
    }
    const listed = await http().get('/users').set(bearer(org.users.admin.token)).expect(200);
    expect(listed.body.total).toBe(4);
    // another organization's user answers 404, as if it did not exist
    await http().get(`/users/${platform.id}`).set(bearer(org.users.admin.token)).expect(404);
    await http().put(`/users/${platform.id}`).set(bearer(org.users.admin.token)).send({ role: 'viewer' }).expect(404);
    await http().delete(`/users/${platform.id}`).set(bearer(org.users.admin.token)).expect(404);
    const bad = await http().post('/users').set(bearer(org.users.admin.token)).send({ email: 'nope', password: 'short', role: 'root', extra: 1 }).expect(400);
    expect(bad.body.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['$.email', '$.password', '$.role', '$.extra']));
  });

  it('changes a role for the next request and refuses to change or disable yourself', async () => {
    const email = `promoted-${randomUUID().slice(0, 6)}@${org.slug}.test`;
    const user = await http().post('/users').set(bearer(org.users.admin.token)).send({ email, password: 'long-enough-pw', role: 'viewer' }).expect(201);
    const token = (await login(email, 'long-enough-pw').expect(200)).body.access_token;
    await http().post('/orchestrations/runs/00000000-0000-4000-8000-000000000000/cancel').set(bearer(token)).send({}).expect(403);
    const updated = await http().put(`/users/${user.body.id}`).set(bearer(org.users.admin.token)).send({ role: 'operator' }).expect(200);
    expect(updated.body.role).toBe('operator');
    // the same token, now operator: passes the role check and reaches the lookup
    await http().post('/orchestrations/runs/00000000-0000-4000-8000-000000000000/cancel').set(bearer(token)).send({}).expect(404);
    await http().put(`/users/${org.users.admin.id}`).set(bearer(org.users.admin.token)).send({ role: 'viewer' }).expect(409);
    await http().delete(`/users/${org.users.admin.id}`).set(bearer(org.users.admin.token)).expect(409);
  });

  it('revokes at once: a disabled user loses its tokens and bound API keys; a deleted key stops', async () => {
    const email = `leaver-${randomUUID().slice(0, 6)}@${org.slug}.test`;
    const user = await http().post('/users').set(bearer(org.users.admin.token)).send({ email, password: 'long-enough-pw', role: 'admin' }).expect(201);
    const token = (await login(email, 'long-enough-pw').expect(200)).body.access_token;
    const key = (await http().post('/api-keys').set(bearer(token)).send({ name: 'leaver-key', role: 'viewer' }).expect(201)).body.key;
    await http().get('/me').set(bearer(token)).expect(200);
    const me = await http().get('/me').set(bearer(key)).expect(200);
    expect(me.body).toMatchObject({ kind: 'api_key', userId: user.body.id, role: 'viewer', email: null });

    const disabled = await http().delete(`/users/${user.body.id}`).set(bearer(org.users.admin.token)).expect(200);
    expect(disabled.body.disabledAt).toEqual(expect.any(String));
    await http().delete(`/users/${user.body.id}`).set(bearer(org.users.admin.token)).expect(200);
    for (const credential of [token, key]) {
      const res = await http().get('/me').set(bearer(credential)).expect(401);
      expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid or missing credentials' });
    }
    const relogin = await login(email, 'long-enough-pw').expect(401);
    expect(relogin.body.message).toBe('Invalid email or password');

    const other = (await http().post('/api-keys').set(bearer(org.users.admin.token)).send({ name: 'short-lived', role: 'operator' }).expect(201)).body;
    await http().get('/me').set(bearer(other.key)).expect(200);
    await http().delete(`/api-keys/${other.id}`).set(bearer(org.users.admin.token)).expect(204);
    await http().get('/me').set(bearer(other.key)).expect(401);
  });

  /** Polls `GET /me` with `credential` until it answers `status`; the milliseconds that took. */
  async function untilAnswers(credential: string, status: number): Promise<number> {
    const started = Date.now();
    while ((await http().get('/me').set(bearer(credential))).status !== status) {
      if (Date.now() - started > 10_000) throw new Error(`GET /me never answered ${status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return Date.now() - started;
  }

  it('applies a change made by another instance (here: SQL) within BATON_AUTH_CACHE_MS', async () => {
    const ttl = testConfig().authCacheMs;
    expect(ttl).toBeGreaterThan(0);
    const email = `elsewhere-${randomUUID().slice(0, 6)}@${org.slug}.test`;
    const user = await http().post('/users').set(bearer(org.users.admin.token)).send({ email, password: 'long-enough-pw', role: 'admin' }).expect(201);
    const token = (await login(email, 'long-enough-pw').expect(200)).body.access_token;
    const key = (await http().post('/api-keys').set(bearer(org.users.admin.token)).send({ name: 'elsewhere', role: 'viewer' }).expect(201)).body;
    await http().get('/me').set(bearer(token)).expect(200);
    await http().get('/me').set(bearer(key.key)).expect(200);

    // A role changed elsewhere: the cached row may answer with the old role until it is older than the TTL.
    await dataSource.query(`UPDATE users SET role = 'viewer' WHERE id = $1`, [user.body.id]);
    const started = Date.now();
    for (;;) {
      const me = await http().get('/me').set(bearer(token)).expect(200);
      if (me.body.role === 'viewer') break;
      expect(Date.now() - started).toBeLessThan(ttl + 1000);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Disabled and revoked elsewhere: refused within the TTL.
    await dataSource.query(`UPDATE users SET disabled_at = now() WHERE id = $1`, [user.body.id]);
    await dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);
    expect(await untilAnswers(token, 401)).toBeLessThan(ttl + 1000);
    expect(await untilAnswers(key.key, 401)).toBeLessThan(ttl + 1000);
  });

  it('refuses an API key once it expires, even while its row is cached', async () => {
    const key = (await http().post('/api-keys').set(bearer(org.users.admin.token)).send({ name: 'expiring', role: 'viewer' }).expect(201)).body;
    await dataSource.query(`UPDATE api_keys SET expires_at = now() + interval '1 second' WHERE id = $1`, [key.id]);
    await untilAnswers(key.key, 200); // the row with its expiry is now the cached one
    const answered = Date.now();
    const waited = await untilAnswers(key.key, 401);
    expect(waited).toBeLessThan(1500);
    expect(Date.now() - answered).toBeLessThan(testConfig().authCacheMs + 1000);
  });
});
