import { runChecks, silentLogger } from '@chunk-archiver/common';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createArchivalMetrics } from '../src/metrics.js';

describe('archival-service HTTP', () => {
  it('reports health, metrics as JSON and in Prometheus format', async () => {
    const metrics = createArchivalMetrics();
    metrics.archived('main', 1000, 2048, 1.5);
    metrics.failed('main', 'STORAGE_ERROR');
    const app = await buildApp({ logger: silentLogger(), metrics, readiness: async () => ({}) });
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok', service: 'archival-service' });
    const json = (await app.inject('/archival/metrics')).json();
    expect(json).toMatchObject({
      archived: 1,
      failed: 1,
      rows: 1000,
      bytes: 2048,
      in_flight: 0,
      failures_by_code: { STORAGE_ERROR: 1 },
    });
    const prom = await app.inject('/metrics');
    expect(prom.headers['content-type']).toContain('text/plain');
    expect(prom.body).toContain('archiver_rows_archived_total{database="main"} 1000');
    expect(prom.body).toContain('archiver_chunks_failed_total{database="main",code="STORAGE_ERROR"} 1');
    await app.close();
  });

  it('is ready only when every dependency answers, and says which one does not', async () => {
    const readiness = () =>
      runChecks(
        {
          redis: async () => 'PONG',
          storage: async () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:10000');
          },
          'database:main': () => new Promise(() => {}),
        },
        100,
      );
    const warnings = ['ARCHIVER_EVENT_SECRET is not set: events are not signed'];
    const app = await buildApp({
      logger: silentLogger(),
      metrics: createArchivalMetrics(),
      readiness,
      warnings,
    });
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({
      status: 'not ready',
      checks: {
        redis: { ok: true },
        storage: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:10000' },
        'database:main': { ok: false, error: 'timed out after 100 ms' },
      },
      warnings,
    });
    await app.close();
  });
});
