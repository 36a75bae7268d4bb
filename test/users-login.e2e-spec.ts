/**
 * Login brute force: failed attempts are limited per account and per client address (429 + Retry-After), unknown
 * emails are limited and answered exactly like known ones, and a success clears the account's count.
 * Each test logs in from its own loopback address (127.x.y.z), so counters of other suites never mix in.
 */
import type { INestApplication } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, openTestDataSource, testConfig, type TestOrganization } from '#testing';

describe('login brute-force limits (e2e)', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let org: TestOrganization;
  let port: number;

  beforeAll(async () => {
    app = await createApp(testConfig({ loginMaxFailuresPerAccount: 3, loginMaxFailuresPerAddress: 6 }));
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    dataSource = await openTestDataSource();
    org = await createTestOrganization(app, dataSource, 'login');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await app?.close();
  });

  const freshAddress = () => `127.${randomInt(1, 255)}.${randomInt(0, 255)}.${randomInt(1, 255)}`;

  function login(from: string, email: string, password: string): Promise<{ status: number; retryAfter?: string; body: { message?: string; statusCode?: number } }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, localAddress: from, method: 'POST', path: '/auth/login', headers: { 'Content-Type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ email, password }));
    });
  }

  it('locks an account after its failures, even for the right password, and says when to retry', async () => {
    const from = freshAddress();
    const { email, password } = org.users.viewer;
    for (let i = 0; i < 3; i++) expect((await login(from, email, 'wrong-password')).status).toBe(401);
    const locked = await login(from, email, password);
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(900);
    expect(locked.body).toMatchObject({ statusCode: 429, message: expect.stringMatching(/^Too many failed logins; retry in \d+ s$/) });
    // another account from the same address is not locked
    expect((await login(from, org.users.operator.email, org.users.operator.password)).status).toBe(200);
  });

  it('treats an unknown email exactly like a known one: same answers, same limit', async () => {
    const from = freshAddress();
    const known = org.users.approver.email;
    const unknown = `nobody-${randomUUID().slice(0, 6)}@${org.slug}.test`;
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push([await login(from, known, 'wrong-password'), await login(freshAddress(), unknown, 'wrong-password')]);
    for (const [a, b] of answers) {
      expect(b.status).toBe(a.status);
      // the same answer; only the seconds of "retry in N s" may tick between the two requests
      const shape = (body: object) => JSON.stringify(body).replace(/retry in \d+ s/, 'retry in N s');
      expect(shape(b.body)).toBe(shape(a.body));
    }
    expect(answers.map(([a]) => a.status)).toEqual([401, 401, 401, 429]);
  });

  it('clears the count of an account on success', async () => {
    const from = freshAddress();
    const { email, password } = org.users.admin;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await login(from, email, 'wrong-password')).status).toBe(401);
      expect((await login(from, email, password)).status).toBe(200);
    }
  });

  it('limits failures per address across accounts', async () => {
    const from = freshAddress();
    for (let i = 0; i < 6; i++) expect((await login(from, `spray-${i}-${randomUUID().slice(0, 4)}@x.test`, 'guess')).status).toBe(401);
    const blocked = await login(from, `spray-last@x.test`, 'guess');
    expect(blocked.status).toBe(429);
    expect(blocked.retryAfter).toBeDefined();
    // the same account from elsewhere still may log in
    expect((await login(freshAddress(), org.users.operator.email, org.users.operator.password)).status).toBe(200);
  });
});
