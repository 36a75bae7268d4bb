/**
 * GET /health and GET /ready with the terminus indicators: the same shapes as before (status, database,
 * pendingMigrations) plus every indicator in `details`, per role; 503 in the error shape with the failing
 * indicator when the worker's claim loop is not running; `degraded` with the reason and a lowered claim concurrency
 * while circuit breakers are open in a burst, and back to `ok` once they close.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ClaimThrottle, EngineWorker } from '#engine';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, testConfig, TEST_ADMIN_URL_ENV } from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(30_000);

describe('health and readiness (e2e)', () => {
  const apps: INestApplication[] = [];
  const start = async (role: 'all' | 'api') => {
    const app = await createApp(testConfig({ role }));
    await app.init();
    apps.push(app);
    return app;
  };

  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('reports every indicator of a process that serves HTTP and runs a worker', async () => {
    const app = await start('all');
    expect((await request(app.getHttpServer()).get('/health').expect(200)).body).toEqual({ status: 'ok' });
    const res = await request(app.getHttpServer()).get('/ready').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      database: 'up',
      pendingMigrations: [],
      details: {
        database: { status: 'up' },
        migrations: { status: 'up', pending: [] },
        eventTail: { status: 'up', running: true },
        worker: { status: 'up', claiming: true, staleLeases: expect.any(Number) },
        breakers: { status: 'up', degraded: false, openBreakers: expect.any(Number), claimConcurrency: expect.any(Number) },
      },
    });
    expect(res.body.details.eventTail.lagSeconds).toBeLessThan(30);
  });

  it('an API-only process claims nothing and says so', async () => {
    const app = await start('api');
    const res = await request(app.getHttpServer()).get('/ready').expect(200);
    expect(res.body.details.worker).toMatchObject({ status: 'up', claiming: false });
  });

  it('answers 503 in the error shape, naming the failing indicator, once the claim loop stops', async () => {
    const app = await start('all');
    await app.get(EngineWorker).stop(0);
    const res = await request(app.getHttpServer()).get('/ready').expect(503);
    expect(res.body).toMatchObject({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'Worker claim loop is not running',
      details: { database: { status: 'up' }, worker: { status: 'down', claiming: false }, pendingMigrations: [] },
    });
  });

  it('reports degraded with the reason while breakers open in a burst, lowering the claim concurrency until they close', async () => {
    // A scratch database: the count is deployment-wide, and other suites open breakers on the shared one.
    const url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `health_${process.pid}`);
    const ds = createDataSource(url, 2);
    await ds.initialize();
    await migrateDatabase(ds);
    const app = await createApp(testConfig({ databaseUrl: url, role: 'all', workerConcurrency: 10, degradedOpenBreakers: 2, degradedClaimPercent: 50, breakerCooldownMs: 600_000 }));
    await app.init();
    try {
      const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('health-brk', 'health-brk') RETURNING id`);
      for (const slug of ['crm-api', 'billing-api', 'search-api'])
        await ds.query(`INSERT INTO agents (organization_id, slug, name, type, config) VALUES ($1, $2, $2, 'api', '{"url":"https://example.com"}')`, [org.id, slug]);
      const ready = async () => (await request(app.getHttpServer()).get('/ready').expect(200)).body;
      expect(await ready()).toMatchObject({ status: 'ok', details: { breakers: { degraded: false, openBreakers: 0, threshold: 2, claimConcurrency: 10 } } });

      // One open breaker is not a burst.
      await ds.query(`UPDATE agents SET breaker_state = 'open', breaker_changed_at = now() WHERE slug = 'crm-api'`);
      expect((await ready()).status).toBe('ok');
      await ds.query(`UPDATE agents SET breaker_state = 'open', breaker_changed_at = now() WHERE slug = 'billing-api'`);
      const degraded = await ready();
      expect(degraded).toMatchObject({
        status: 'degraded',
        reason: expect.stringContaining('2 agents have an open circuit breaker'),
        database: 'up',
        details: { breakers: { status: 'up', degraded: true, openBreakers: 2, claimConcurrency: 5 } },
      });
      expect(degraded.details.breakers.agents.sort()).toEqual(['billing-api', 'crm-api']);
      expect(app.get(ClaimThrottle).limit(10)).toBe(5);

      // An open breaker past its cool-down is half-open: it no longer counts. Closing the other ends the burst.
      await ds.query(`UPDATE agents SET breaker_changed_at = now() - interval '1 hour' WHERE slug = 'crm-api'`);
      await ds.query(`UPDATE agents SET breaker_state = 'closed', breaker_changed_at = now() WHERE slug = 'billing-api'`);
      expect(await ready()).toMatchObject({ status: 'ok', details: { breakers: { degraded: false, openBreakers: 0, claimConcurrency: 10 } } });
      expect(app.get(ClaimThrottle).limit(10)).toBe(10);
    } finally {
      await app.close();
      await ds.destroy();
      await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
    }
  });
});
