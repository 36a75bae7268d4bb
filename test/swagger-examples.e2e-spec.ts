/**
 * The Swagger examples are requests a reader copies: every operation whose request body has examples (on the body
 * or on its properties, as the DTOs' @ApiProperty({ example }) give) is sent that example, by a platform admin on a
 * freshly seeded database (what `npm start` has; an enum without an example takes its first value, as Swagger UI
 * does), and must pass validation: no 400, and no 404 unless a path parameter
 * names a made-up id (a 409 for a slug the seeds already have is fine), and no JSON-RPC error from the A2A endpoint.
 * The path and header parameters take their examples too.
 */
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp } from '../apps/api/src/bootstrap.js';
import { openScratchDatabase, testConfig, type ScratchDatabase } from '#testing';

interface Schema {
  $ref?: string;
  type?: string;
  example?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  enum?: unknown[];
  format?: string;
}
interface Operation {
  parameters?: { name: string; in: string; required?: boolean; example?: unknown; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema?: Schema; example?: unknown }> };
}

describe('Swagger examples are valid requests (e2e)', () => {
  let scratch: ScratchDatabase;
  let app: INestApplication;
  let base: string;
  let token: string;
  let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

  beforeAll(async () => {
    scratch = await openScratchDatabase('swagger_examples');
    app = await createApp(testConfig({ databaseUrl: scratch.url, autoMigrate: true }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'admin@baton.local', password: 'baton-admin' }),
    });
    token = ((await login.json()) as { access_token: string }).access_token;
    doc = (await (await fetch(`${base}/docs-json`)).json()) as typeof doc;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const resolve = (schema: Schema): Schema => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop() as string] : schema);

  /** The example of a schema: its own, or built from its properties' examples (undefined when it has none). */
  function exampleOf(raw: Schema, depth = 0): unknown {
    const schema = resolve(raw);
    if (schema.example !== undefined) return schema.example;
    if (schema.enum?.length) return schema.enum[0]; // what Swagger UI's "Try it out" fills in
    if (depth > 5) return undefined;
    if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => exampleOf(s, depth + 1) ?? {}));
    if (schema.properties) {
      const entries = Object.entries(schema.properties)
        .map(([name, property]) => [name, exampleOf(property, depth + 1)] as const)
        .filter(([, value]) => value !== undefined);
      return entries.length ? Object.fromEntries(entries) : undefined;
    }
    if (schema.type === 'array' && schema.items) {
      const item = exampleOf(schema.items, depth + 1);
      return item === undefined ? undefined : [item];
    }
    return undefined;
  }

  it('sends every operation its example and none is refused as invalid', async () => {
    const refused: string[] = [];
    let tried = 0;
    // tenants first: other examples (POST /users) name the organization the POST /organizations example creates
    const paths = Object.entries(doc.paths).sort(([a], [b]) => Number(b === '/organizations') - Number(a === '/organizations'));
    for (const [path, item] of paths) {
      for (const [method, operation] of Object.entries(item)) {
        const content = operation.requestBody?.content?.['application/json'];
        if (!content) continue;
        const body = content.example ?? (content.schema ? exampleOf(content.schema) : undefined);
        if (body === undefined) continue;
        let url = path;
        const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
        for (const p of operation.parameters ?? []) {
          const example = p.example ?? p.schema?.example;
          if (p.in === 'header' && example !== undefined) headers[p.name] = String(example);
        }
        for (const p of operation.parameters ?? []) {
          if (p.in !== 'path') continue;
          const value = p.example ?? p.schema?.example ?? (p.schema?.format === 'uuid' || /id$/i.test(p.name) ? randomUUID() : 'example');
          url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
        }
        tried++;
        const res = await fetch(base + url, {
          method: method.toUpperCase(),
          headers,
          body: JSON.stringify(body),
        });
        const text = await res.text();
        // a 404 is fine for an id the path example made up; with no path parameter it is the body naming nothing
        const named = /\{\w+\}/.test(path);
        // JSON-RPC (A2A) answers a refusal as an error in a 200
        const rpcError = text.startsWith('{"jsonrpc"') && (JSON.parse(text) as { error?: unknown }).error !== undefined;
        if (res.status === 400 || res.status >= 500 || (res.status === 404 && !named) || rpcError)
          refused.push(`${method.toUpperCase()} ${url} ${JSON.stringify(body)} -> ${res.status} ${text.slice(0, 400)}`);
      }
    }
    expect(refused).toEqual([]);
    expect(tried).toBeGreaterThan(5);
  });
});
