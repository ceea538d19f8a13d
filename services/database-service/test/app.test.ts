import { silentLogger } from '@chunk-archiver/common';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { RestoreError, UnknownTableError } from '../src/errors.js';

async function app(apiToken?: string, more: { allowUnauthenticated?: boolean; warnings?: string[] } = {}) {
  const calls: unknown[] = [];
  const instance = await buildApp({
    logger: silentLogger(),
    registry: new Registry(),
    apiToken,
    ...more,
    readiness: async () => ({ redis: { ok: true } }),
    status: async () => ({ databases_processed: 1, database_stats: [] }),
    trigger: async (input) => {
      calls.push(input);
      if (input.table !== 'conditions') throw new UnknownTableError(input.table, input.database);
      return [
        {
          database: 'metrics',
          table: 'public.conditions',
          chunk: '_timescaledb_internal._hyper_1_1_chunk',
          range_start: 'a',
          range_end: 'b',
          event_id: null,
        },
      ];
    },
    restore: async (input) => {
      calls.push(input);
      if (input.from === 'bad')
        throw new RestoreError('BAD_BOUND', 'from: "bad" is not a time', { field: 'from' });
      if (input.table === 'busy') throw new RestoreError('ROWS_EXIST', 'public.busy already holds rows');
      throw new Error('connection to 10.0.0.5 refused: password=hunter2');
    },
    release: async () => {
      throw new RestoreError('UNKNOWN_RESTORE', 'release: no restore 7');
    },
  });
  return { instance, calls };
}

describe('database-service HTTP', () => {
  it('without API_TOKEN answers mutating routes only on loopback, unless allow_unauthenticated', async () => {
    const trigger = (instance: Awaited<ReturnType<typeof app>>['instance'], remoteAddress: string) =>
      instance.inject({
        method: 'POST',
        url: '/database/retention/trigger-archival?table_name=conditions',
        remoteAddress,
      });
    const closed = await app();
    for (const address of ['10.1.2.3', '192.168.0.7', '::ffff:172.17.0.1', '2001:db8::1']) {
      const refused = await trigger(closed.instance, address);
      expect([address, refused.statusCode]).toEqual([address, 403]);
      expect(refused.json().message).toContain('API_TOKEN');
    }
    expect(closed.calls).toEqual([]);
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect([address, (await trigger(closed.instance, address)).statusCode]).toEqual([address, 200]);
    // Reads stay open from anywhere.
    expect(
      (await closed.instance.inject({ url: '/database/retention/status', remoteAddress: '10.1.2.3' }))
        .statusCode,
    ).toBe(200);
    const open = await app(undefined, { allowUnauthenticated: true });
    expect((await trigger(open.instance, '10.1.2.3')).statusCode).toBe(200);
    const withToken = await app('s3cret');
    expect((await trigger(withToken.instance, '127.0.0.1')).statusCode).toBe(401);
  });

  it('/ready says what runs without its protection, and stays 200 for it', async () => {
    const { instance } = await app(undefined, { warnings: ['ARCHIVER_EVENT_SECRET is not set: ...'] });
    const ready = await instance.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().warnings).toEqual(['ARCHIVER_EVENT_SECRET is not set: ...']);
  });

  it('serves health, status and an OpenAPI document', async () => {
    const { instance } = await app();
    expect((await instance.inject('/health')).json()).toEqual({ status: 'ok', service: 'database-service' });
    expect((await instance.inject('/database/retention/status')).json()).toEqual({
      databases_processed: 1,
      database_stats: [],
    });
    const doc = (await instance.inject('/docs/json')).json();
    expect(Object.keys(doc.paths)).toEqual([
      '/database/retention/status',
      '/database/retention/trigger-archival',
      '/database/retention/restore',
      '/database/retention/restores/{id}/release',
    ]);
    expect(
      doc.paths['/database/retention/trigger-archival'].post.parameters.map((p: { name: string }) => p.name),
    ).toContain('table_name');
    await instance.close();
  });

  it('triggers a configured table and returns what it queued', async () => {
    const { instance, calls } = await app();
    const res = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=conditions&database=metrics',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().queued).toHaveLength(1);
    expect(calls).toEqual([{ table: 'conditions', database: 'metrics', dryRun: false }]);
    await instance.close();
  });

  it('answers bad input with 4xx naming the problem, never 500 or a stack trace', async () => {
    const { instance } = await app();
    const unknown = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=nope',
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('table nope is not configured');
    const missing = await instance.inject({ method: 'POST', url: '/database/retention/trigger-archival' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toContain('table_name');
    const badDb = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=x&database=a%22%3B%20drop',
    });
    expect(badDb.statusCode).toBe(400);
    expect(badDb.json().message).toContain('database');
    const extra = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=x&sql=select',
    });
    expect(extra.statusCode).toBe(400);
    const big = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=conditions',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(64 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    const wrongType = await instance.inject({
      method: 'POST',
      url: '/database/retention/trigger-archival?table_name=conditions',
      headers: { 'content-type': 'application/xml' },
      payload: '<x/>',
    });
    expect(wrongType.statusCode).toBe(415);
    for (const res of [unknown, missing, badDb, extra, big, wrongType])
      expect(res.body).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect((await instance.inject('/nowhere')).statusCode).toBe(404);
    await instance.close();
  });

  it('requires the bearer token on the trigger when one is configured', async () => {
    const { instance, calls } = await app('s3cret-token');
    const url = '/database/retention/trigger-archival?table_name=conditions';
    const none = await instance.inject({ method: 'POST', url });
    expect(none.statusCode).toBe(401);
    const wrong = await instance.inject({ method: 'POST', url, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('s3cret-token');
    expect(calls).toEqual([]);
    const right = await instance.inject({
      method: 'POST',
      url,
      headers: { authorization: 'Bearer s3cret-token' },
    });
    expect(right.statusCode).toBe(200);
    // Status stays readable without a token.
    expect((await instance.inject('/database/retention/status')).statusCode).toBe(200);
    await instance.close();
  });

  it('answers a refused restore with 400, 404 or 409 naming the problem, and an unexpected failure with a bare 500', async () => {
    const { instance } = await app('secret-token');
    const post = (payload: object, token = 'secret-token') =>
      instance.inject({
        method: 'POST',
        url: '/database/retention/restore',
        headers: { authorization: `Bearer ${token}` },
        payload,
      });
    expect((await post({ table: 't', from: 'a', to: 'b' }, 'nope')).statusCode).toBe(401);
    const missing = await post({ table: 't', from: '2020-01-01' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toMatch(/to/);
    const bad = await post({ table: 't', from: 'bad', to: '2020-02-01' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('from: "bad" is not a time');
    expect((await post({ table: 'busy', from: '2020-01-01', to: '2020-02-01' })).statusCode).toBe(409);
    const failed = await post({ table: 'other', from: '2020-01-01', to: '2020-02-01' });
    expect(failed.statusCode).toBe(500);
    expect(failed.body).not.toContain('hunter2');
    const release = await instance.inject({
      method: 'POST',
      url: '/database/retention/restores/7/release',
      headers: { authorization: 'Bearer secret-token' },
    });
    expect(release.statusCode).toBe(404);
    const badId = await instance.inject({
      method: 'POST',
      url: '/database/retention/restores/x1/release',
      headers: { authorization: 'Bearer secret-token' },
    });
    expect(badId.statusCode).toBe(400);
    await instance.close();
  });
});
