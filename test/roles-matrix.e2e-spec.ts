/**
 * Role x endpoint matrix, generated from the OpenAPI document (every operation Nest serves is in it): each operation
 * must carry `x-baton-access` (set by @Public, @AnyRole, @Roles or @PlatformAdmin) and that rule must equal the one
 * DESIGN.md section 9 gives for its path (RULES below); then every operation is called by a user of each role, an
 * API key of each role, a platform admin and nobody, and must answer 401/403 exactly when the rule says so. A new
 * endpoint without a marker, or without a rule here, fails this suite.
 */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createPlatformAdmin, createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

type Rule = 'public' | 'read' | 'operator' | 'approver' | 'admin' | 'platform';
const ALL = ['admin', 'operator', 'approver', 'viewer'];
const ALLOWED: Record<Exclude<Rule, 'public' | 'platform'>, string[]> = {
  read: ALL,
  operator: ['admin', 'operator'],
  approver: ['admin', 'approver'],
  admin: ['admin'],
};

/** DESIGN.md section 9: viewer reads; operator starts/cancels/intervenes; approver decides; admin manages definitions, agents, webhooks, users. */
const RULES: [method: string, path: RegExp, rule: Rule][] = [
  ['GET', /^\/(health|ready|metrics)$/, 'public'],
  ['POST', /^\/auth\/login$/, 'public'],
  ['GET', /^\/a2a\/(\{[^}]+\}\/\.well-known\/agent-card\.json|\.well-known\/agents)$/, 'public'],
  // The A2A JSON-RPC endpoint is @Public to the guard: it authenticates the bearer token itself (401 with
  // WWW-Authenticate) and answers everything else as JSON-RPC errors; its own suite tests that.
  ['POST', /^\/a2a\/\{[^}]+\}$/, 'public'],
  ['*', /^\/api-keys/, 'admin'],
  ['GET', /^\/me$/, 'read'],
  ['*', /^\/users/, 'admin'],
  ['*', /^\/organizations/, 'platform'],
  ['*', /^\/webhooks/, 'admin'],
  ['GET', /^\/audit/, 'admin'],
  ['POST', /^\/orchestrations\/definitions\/validate$/, 'read'],
  ['GET', /^\/orchestrations\/definitions/, 'read'],
  ['*', /^\/orchestrations\/definitions/, 'admin'],
  ['POST', /^\/orchestrations\/runs$/, 'operator'],
  ['POST', /^\/orchestrations\/runs\/\{id\}\/(cancel|steps\/\{key\}\/(retry|skip))$/, 'operator'],
  ['GET', /^\/orchestrations\/(runs|stream|events|approvals)/, 'read'],
  ['POST', /^\/orchestrations\/approvals\/\{id\}\/decision$/, 'approver'],
  ['POST', /^\/agents\/\{[^}]+\}\/heartbeat$/, 'operator'],
  ['GET', /^\/(agents|conversations|assets)/, 'read'],
  ['*', /^\/conversations/, 'operator'],
  ['*', /^\/agents/, 'admin'],
];

function ruleOf(method: string, path: string): Rule | undefined {
  return RULES.find(([m, p]) => (m === '*' || m === method) && p.test(path))?.[2];
}

function markerRule(operation: Operation): Rule | undefined {
  const access = operation['x-baton-access'];
  if (!access) return undefined;
  if (access.includes('public')) return 'public';
  if (operation['x-baton-platform']) return 'platform';
  const sorted = [...access].sort().join(',');
  return (Object.entries(ALLOWED).find(([, roles]) => [...roles].sort().join(',') === sorted)?.[0] as Rule) ?? undefined;
}

interface Operation {
  'x-baton-access'?: string[];
  'x-baton-platform'?: boolean;
  parameters?: { name: string; in: string }[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('role x endpoint matrix (e2e)', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let base: string;
  let org: TestOrganization;
  let platformToken: string;
  const keys: Record<string, string> = {};
  let operations: { method: string; path: string; operation: Operation }[];

  beforeAll(async () => {
    app = await createApp(testConfig());
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    dataSource = await openTestDataSource();
    org = await createTestOrganization(app, dataSource, 'matrix');
    platformToken = (await createPlatformAdmin(app, dataSource)).token;
    for (const role of ALL) {
      const res = await fetch(`${base}/api-keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${org.users.admin.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `matrix-${role}`, role }),
      });
      keys[role] = ((await res.json()) as { key: string }).key;
    }
    const doc = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, operation: item[m] })),
    );
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await app?.close();
  });

  it('finds the operations in the document', () => {
    expect(operations.length).toBeGreaterThan(30);
  });

  it('gives every operation an access marker equal to its rule in DESIGN.md section 9', () => {
    const wrong = operations
      .map(({ method, path, operation }) => ({ op: `${method} ${path}`, marker: markerRule(operation) ?? 'none', rule: ruleOf(method, path) ?? 'no rule' }))
      .filter((o) => o.marker !== o.rule);
    expect(wrong).toEqual([]);
  });

  /** Status of one call: the headers are enough (streams are aborted as soon as they answer). */
  async function statusOf(method: string, path: string, token: string | null): Promise<number> {
    const url = base + path.replace(/\{(\w+)\}/g, (_, name: string) => (/id$/i.test(name) ? randomUUID() : `matrix-${name}`));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      const res = await fetch(url, {
        method,
        signal: controller.signal,
        headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(method === 'GET' ? {} : { 'Content-Type': 'application/json' }) },
        body: method === 'GET' ? undefined : '{}',
      });
      controller.abort();
      return res.status;
    } finally {
      clearTimeout(timer);
    }
  }

  it('answers 401 without a token and 403 exactly to the roles the rule leaves out, JWT and API key alike', async () => {
    const failures: string[] = [];
    // /a2a/* speaks JSON-RPC with its own error rules (errors in a 200 JSON-RPC envelope): its markers are checked above, its answers by its own suite.
    const live = operations.filter(({ path }) => !path.startsWith('/a2a'));
    for (const { method, path } of live) {
      const rule = ruleOf(method, path);
      const callers: [string, string | null, boolean][] = [['nobody', null, rule === 'public']];
      for (const role of ALL) {
        const allowed = rule === 'public' || (rule === 'platform' ? false : ALLOWED[rule as keyof typeof ALLOWED].includes(role));
        callers.push([`${role} user`, org.users[role as keyof TestOrganization['users']].token, allowed]);
        callers.push([`${role} API key`, keys[role], allowed]);
      }
      callers.push(['platform admin', platformToken, true]);
      const statuses = await Promise.all(callers.map(([, token]) => statusOf(method, path, token)));
      callers.forEach(([who, token, allowed], i) => {
        const status = statuses[i];
        const expected = allowed ? 'not 401/403' : token === null ? '401' : '403';
        const ok = allowed ? status !== 401 && status !== 403 : status === (token === null ? 401 : 403);
        if (!ok || status >= 500) failures.push(`${method} ${path} as ${who}: ${status}, expected ${expected}`);
      });
    }
    expect(failures).toEqual([]);
  });
});
