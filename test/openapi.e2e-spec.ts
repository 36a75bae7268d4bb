/**
 * The OpenAPI document is valid, and it tells the truth about authentication: every operation except the
 * public few declares the bearer scheme and a 401 answer, and really answers 401 without a token. The
 * suite walks the whole document, so it covers endpoints added later without changes here.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import request from 'supertest';
import { createApp } from '../apps/api/src/bootstrap.js';
import { testConfig } from '#testing';

type PathItemObject = OpenAPIObject['paths'][string];
type OperationObject = NonNullable<PathItemObject['get']>;

/** DESIGN.md section 9: the only operations callable without a token (besides the docs themselves). */
const PUBLIC_OPERATIONS = new Set([
  'GET /health',
  'GET /ready',
  'POST /auth/login',
  // A2A discovery is public (DESIGN.md section 8); a token, when sent, picks the caller's organization.
  'GET /a2a/.well-known/agents',
  'GET /a2a/{slug}/.well-known/agent-card.json',
]);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;
const ANY_UUID = '00000000-0000-4000-8000-000000000000';

interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  id: string;
  operation: OperationObject;
}

function operations(doc: OpenAPIObject): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, PathItemObject]) =>
    METHODS.filter((m) => item[m]).map((method) => ({
      method,
      path,
      id: `${method.toUpperCase()} ${path}`,
      operation: item[method] as OperationObject,
    })),
  );
}

describe('OpenAPI document (e2e)', () => {
  let app: INestApplication;
  let doc: OpenAPIObject;

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.init();
    const res = await request(app.getHttpServer()).get('/docs-json').expect(200).expect('Content-Type', /json/);
    doc = res.body as OpenAPIObject;
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    // validate() dereferences in place: give it a copy so the other tests see the document as served.
    await expect(
      SwaggerParser.validate(structuredClone(doc) as unknown as Parameters<typeof SwaggerParser.validate>[0]),
    ).resolves.toBeDefined();
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await request(app.getHttpServer()).get('/docs').redirects(1).expect(200).expect('Content-Type', /html/);
    expect(res.text).toMatch(/swagger-ui/i);
  });

  it('declares the bearer scheme', () => {
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents the public operations as public', () => {
    const byId = new Map(operations(doc).map((o) => [o.id, o.operation]));
    for (const id of PUBLIC_OPERATIONS) {
      expect(byId.has(id)).toBe(true);
      expect(byId.get(id)?.security ?? doc.security ?? []).toEqual([]);
    }
  });

  it('gives every operation a summary and a success response', () => {
    const problems = operations(doc).flatMap(({ id, operation }) => [
      ...(operation.summary ? [] : [`${id}: no summary (@ApiOperation)`]),
      ...(Object.keys(operation.responses ?? {}).some((code) => /^[23]/.test(code)) ? [] : [`${id}: no 2xx/3xx response documented`]),
    ]);
    expect(problems).toEqual([]);
  });

  it('declares bearer auth and a 401 response on every other operation', () => {
    const others = operations(doc).filter((o) => !PUBLIC_OPERATIONS.has(o.id));
    expect(others.length).toBeGreaterThan(0);
    const problems = others.flatMap(({ id, operation }) => {
      const security = operation.security ?? doc.security ?? [];
      return [
        ...(security.some((requirement) => 'bearer' in requirement) ? [] : [`${id}: no bearer security requirement (@Authenticated)`]),
        ...(operation.responses?.['401'] ? [] : [`${id}: no 401 response`]),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('answers 401 without a token on every other operation, and the public ones without one', async () => {
    const server = app.getHttpServer();
    const wrong: string[] = [];
    for (const { id, method, path } of operations(doc)) {
      const url = path.replace(/\{[^}]+\}/g, ANY_UUID);
      const res = await request(server)[method](url).set('Accept', 'application/json');
      const publicOne = PUBLIC_OPERATIONS.has(id);
      if (!publicOne && res.status !== 401) wrong.push(`${id}: answered ${res.status} without a token`);
      if (publicOne && res.status === 401 && id !== 'POST /auth/login') wrong.push(`${id}: asked for a token`);
    }
    expect(wrong).toEqual([]);
  });
});
