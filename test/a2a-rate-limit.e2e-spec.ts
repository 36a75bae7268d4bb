/** A2A starts count against the organization's run creation limit, the same counter as POST /orchestrations/runs (429 past it). */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { protocolDataPart } from '#a2a';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig } from '#testing';
import { a2aClient, asTask, sendRequest, userMessage } from './a2a-client.js';

describe('A2A run creation rate limit (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;

  beforeAll(async () => {
    app = await createApp(testConfig({ runRateLimit: 2 }));
    await app.listen(0, '127.0.0.1');
    ds = await openTestDataSource();
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
  });

  it('refuses the start past the limit with -32029 (REST: 429) and starts no run; reads are not limited', async () => {
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const org = await createTestOrganization(app, ds, 'a2arl');
    const slug = `rl-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, { slug, name: slug, steps: [{ key: 'only', agent: 'echo', input: {} }] });
    await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: slug, input: {} })
      .expect(201);
    const client = await a2aClient(base, slug, org.users.operator.token);
    const task = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({})]), true)));
    await expect(client.sendMessage(sendRequest(userMessage([protocolDataPart({})]), true))).rejects.toMatchObject({
      envelopeCode: -32029,
    });
    // and the REST start past the same limit: 429 with Retry-After, in the error shape
    const refused = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: slug, input: {} });
    expect({ status: refused.status, retryAfter: refused.headers['retry-after'], statusCode: refused.body.statusCode }).toEqual({
      status: 429,
      retryAfter: expect.stringMatching(/^\d+$/),
      statusCode: 429,
    });
    const runs = await ds.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE definition_slug = $1`, [slug]);
    expect(runs[0].n).toBe(2);
    expect((await client.getTask({ tenant: '', id: task.id, historyLength: 0 })).id).toBe(task.id);
  });
});
