/**
 * The dashboard calls only documented endpoints: every route of its API client (apps/dashboard/src/api/routes.ts)
 * is an operation of /docs-json. Routes of APIs still being built (OPTIONAL_ROUTES) may be missing from the
 * document only while the server answers them 404 (the page shows "not available" then). Also: the app itself is
 * served at /dashboard without a token, with an SPA fallback, and stays out of the API document.
 */
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { existsSync } from 'node:fs';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { DASHBOARD_DIST } from '../apps/api/src/dashboard/dashboard.controller.js';
import { API_ROUTES, OPTIONAL_ROUTES, type RouteName } from '../apps/dashboard/src/api/routes.js';
import { createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

const ANY_UUID = '00000000-0000-4000-8000-000000000000';

describe('dashboard routes (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let doc: OpenAPIObject;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    ds = await openTestDataSource(2);
    org = await createTestOrganization(app, ds, 'dash-routes');
    doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body as OpenAPIObject;
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
  });

  const documented = (route: string) => {
    const [method, path] = route.split(' ') as [string, string];
    return Boolean((doc.paths[path] as Record<string, unknown> | undefined)?.[method.toLowerCase()]);
  };

  it('uses only operations the OpenAPI document describes (or, for APIs in progress, ones the server does not serve)', async () => {
    const problems: string[] = [];
    for (const [name, route] of Object.entries(API_ROUTES) as [RouteName, string][]) {
      if (documented(route)) continue;
      if (!OPTIONAL_ROUTES.has(name)) {
        problems.push(`${name}: ${route} is not in /docs-json`);
        continue;
      }
      const [method, path] = route.split(' ') as [string, string];
      const url = path.replace(/\{[^}]+\}/g, 'dashboard-probe');
      const res = await request(app.getHttpServer())[method.toLowerCase() as 'get'](url).set('Authorization', `Bearer ${org.users.admin.token}`);
      if (res.status !== 404) problems.push(`${name}: ${route} answers ${res.status} but is not in /docs-json`);
    }
    expect(problems).toEqual([]);
  });

  it('keeps the web app out of the API document', () => {
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/dashboard'))).toEqual([]);
  });

  it('serves the app without a token, with index.html for client-side routes and hashed assets', async () => {
    const server = app.getHttpServer();
    if (!existsSync(`${DASHBOARD_DIST}/index.html`)) {
      // npm test builds the dashboard first; without a build the route says how to get one.
      const res = await request(server).get('/dashboard/').expect(503);
      expect(res.body.message).toMatch(/npm run build/);
      return;
    }
    await request(server).get('/dashboard').expect(301).expect('Location', '/dashboard/');
    const index = await request(server).get('/dashboard/').expect(200).expect('Content-Type', /html/).expect('Cache-Control', 'no-cache');
    const deep = await request(server).get(`/dashboard/runs/${ANY_UUID}`).expect(200);
    expect(deep.text).toBe(index.text);
    const asset = /src="\/dashboard\/(assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    expect(asset).toBeDefined();
    await request(server).get(`/dashboard/${asset}`).expect(200).expect('Content-Type', /javascript/).expect('Cache-Control', /immutable/);
    await request(server).get('/dashboard/assets/missing.js').expect(404);
    await request(server).get('/dashboard/assets/..%2f..%2fpackage.json').expect((res) => expect([403, 404]).toContain(res.status));
  });
});
