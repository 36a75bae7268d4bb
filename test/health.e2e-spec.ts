/**
 * GET /health and GET /ready with the terminus indicators: the same shapes as before (status, database,
 * pendingMigrations) plus every indicator in `details`, per role; 503 in the error shape with the failing
 * indicator when the worker's claim loop is not running.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { EngineWorker } from '#engine';
import { createApp } from '../apps/api/src/bootstrap.js';
import { testConfig } from '#testing';
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
});
