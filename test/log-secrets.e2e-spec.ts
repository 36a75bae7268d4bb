/**
 * Structured logs end to end: one JSON line per request with its request id, organization, run id and step key,
 * and no secret the flow used anywhere in the captured lines (verbose level, so every line the app can write is
 * written): passwords, JWTs, an API key, a webhook signing secret, the JWT secret, and a token passed as a query
 * parameter. The flow logs in, creates an API key and a webhook, runs an orchestration through an approval, and
 * makes failing calls whose errors are logged.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { parseApiKey } from '#identity';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig, waitFor, waitForRun, type TestOrganization } from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(60_000);

describe('structured logs (e2e)', () => {
  const lines: string[] = [];
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  const config = testConfig({ logLevel: 'verbose', logFormat: 'json' });

  beforeAll(async () => {
    ds = await openTestDataSource();
    app = await createApp(config, { logging: { destination: { write: (line: string) => void lines.push(line) } } });
    await app.init();
    org = await createTestOrganization(app, ds, 'logs');
    await insertDefinition(ds, org.id, {
      slug: 'logged',
      name: 'logged',
      steps: [
        { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}' }, approval: { prompt: 'Publish?' } },
        { key: 'after', agent: 'echo', dependsOn: ['draft'], input: { n: 1 } },
      ],
    });
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
  });

  const http = () => request(app.getHttpServer());
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  it('writes one JSON line per request with request id, organization, run id and step key, and leaks no secret', async () => {
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    const admin = org.users.admin;
    // An API key (shown once) used for the rest of the flow.
    const key = (await http().post('/api-keys').set(bearer(admin.token)).send({ name: 'logs', role: 'admin' }).expect(201)).body.key as string;
    expect(key).toMatch(/^bk_/);
    const webhook = await http().post('/webhooks').set(bearer(key)).send({ url: 'https://example.com/hook' }).expect(201);
    const webhookSecret = webhook.body.secret as string;

    const started = await http().post('/orchestrations/runs').set(bearer(key)).set('X-Request-Id', 'req-logs-1').send({ definition: 'logged', input: { text: 'hi' } }).expect(201);
    const runId = started.body.id as string;
    const approval = await waitFor(async () => {
      const res = await http().get(`/orchestrations/approvals?status=pending&run=${runId}`).set(bearer(org.users.viewer.token)).expect(200);
      return res.body.items[0] as { id: string } | undefined;
    });
    await http().post(`/orchestrations/approvals/${approval.id}/decision`).set(bearer(org.users.approver.token)).send({ decision: 'continue' }).expect(200);
    await waitForRun(app, key, runId, ['completed']);
    await http().post(`/orchestrations/runs/${runId}/steps/after/retry`).set(bearer(key)).send({}).expect((res) => expect(res.status).toBeGreaterThanOrEqual(400));

    // Failing calls: a wrong password, a mangled key, a token in the query string.
    await http().post('/auth/login').send({ email: admin.email, password: `${admin.password}-wrong` }).expect(401);
    await http().get('/webhooks').set(bearer(`${key}x`)).expect(401);
    await http().get(`/orchestrations/runs?access_token=${encodeURIComponent(admin.token)}`).expect(401);
    await http().get('/health').expect(200);

    const entries = parsed();
    // A request's own line has `res`; application lines written inside the request (engine transitions) carry `req` too.
    const requestLine = (method: string, path: string) => entries.find((e) => e.res !== undefined && (e.req as { method?: string; url?: string } | undefined)?.method === method && (e.req as { url: string }).url === path);

    const start = requestLine('POST', '/orchestrations/runs');
    expect(start).toMatchObject({ requestId: 'req-logs-1', organizationId: org.id, res: { statusCode: 201 }, msg: 'POST /orchestrations/runs 201', level: 30 });
    expect(typeof start?.ms).toBe('number');
    expect(started.headers['x-request-id']).toBe('req-logs-1');
    expect(requestLine('GET', `/orchestrations/runs/${runId}`)).toMatchObject({ organizationId: org.id, runId });
    expect(requestLine('POST', `/orchestrations/runs/${runId}/steps/after/retry`)).toMatchObject({ organizationId: org.id, runId, stepKey: 'after' });
    expect(requestLine('GET', '/orchestrations/runs?access_token=[REDACTED]')).toMatchObject({ res: { statusCode: 401 }, level: 40 });
    // Health checks are logged at debug, so an info-level deployment is not flooded by probes.
    expect(requestLine('GET', '/health')).toMatchObject({ level: 20 });
    // Every request line has a request id, the same one the response echoed.
    for (const entry of entries.filter((e) => e.req)) expect(typeof entry.requestId).toBe('string');

    const keySecret = parseApiKey(key)?.secret;
    expect(keySecret).toHaveLength(32);
    const secrets = [admin.password, admin.token, org.users.approver.token, org.users.viewer.token, key, keySecret as string, webhookSecret, config.jwtSecret as string];
    const all = lines.join('\n');
    for (const secret of secrets) expect({ secret, found: all.includes(secret) }).toEqual({ secret, found: false });
    expect(all).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });
});
