import { silentLogger } from '@chunk-archiver/common';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';

describe('database-service app', () => {
  it('answers /health', async () => {
    const app = buildApp({ logger: silentLogger() });
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', service: 'database-service' });
    await app.close();
  });
});
