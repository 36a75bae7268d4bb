/**
 * The dashboard calls only documented endpoints: every route of its API client (apps/dashboard/src/api/routes.ts)
 * is an operation of /docs-json (the client takes nothing else, and a vitest test checks that no other file of the
 * app reaches the network; the browser suite checks every request the pages made). Also: the app itself is served at
 * /dashboard without a token, with an SPA fallback, and stays out of the API document.
 */
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { existsSync } from 'node:fs';
import request from 'supertest';
import { createApp } from '../apps/api/src/bootstrap.js';
import { DASHBOARD_DIST } from '../apps/api/src/dashboard/dashboard.controller.js';
import { API_ROUTES } from '../apps/dashboard/src/api/routes.js';
import { testConfig } from '#testing';

const ANY_UUID = '00000000-0000-4000-8000-000000000000';

describe('dashboard routes (e2e)', () => {
  let app: INestApplication;
  let doc: OpenAPIObject;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body as OpenAPIObject;
  });

  afterAll(async () => {
    await app?.close();
  });

  const documented = (route: string) => {
    const [method, path] = route.split(' ') as [string, string];
    return Boolean((doc.paths[path] as Record<string, unknown> | undefined)?.[method.toLowerCase()]);
  };

  it('uses only operations the OpenAPI document describes', () => {
    const undocumented = Object.entries(API_ROUTES)
      .filter(([, route]) => !documented(route))
      .map(([name, route]) => `${name}: ${route}`);
    expect(undocumented).toEqual([]);
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
