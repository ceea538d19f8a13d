import { silentLogger } from '@chunk-archiver/common';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { OperatorError, RestoreError, UnknownTableError } from '../src/errors.js';

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
      if (input.table === 'partial')
        return {
          database: 'metrics',
          source: 'public.partial',
          target: 'public.partial',
          from: input.from,
          to: input.to,
          dry_run: false,
          skip_existing: false,
          covered: null,
          held: false,
          objects: [],
          ok: false,
        };
      throw new Error('connection to 10.0.0.5 refused: password=hunter2');
    },
    release: async () => {
      throw new RestoreError('UNKNOWN_RESTORE', 'release: no restore 7');
    },
    retry: async (input) => {
      calls.push(input);
      if (input.id === '9')
        throw new OperatorError(
          'NOT_RETRYABLE',
          'chunk 9 is requested; only failed or dead chunks are retried',
          'id',
        );
      return [
        {
          database: 'metrics',
          id: input.id ?? '1',
          table: 'public.t',
          chunk: 'public.c',
          from_state: 'failed',
        },
      ];
    },
    deadLetters: {
      list: async () => ({ counts: {}, dead_letters: [] }),
      show: async (_topic, id) => {
        throw new OperatorError('UNKNOWN_DEAD_LETTER', `no dead letter ${id}`, 'id');
      },
      replay: async () => {
        throw new OperatorError('NOT_REPLAYABLE', 'still invalid: x'.repeat(2000), 'id');
      },
      purge: async (topic) => ({ topic: topic as never, purged: 0 }),
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
      '/database/retention/chunks/{id}/retry',
      '/database/retention/retry',
      '/database/retention/dead-letters',
      '/database/retention/dead-letters/{topic}/{id}',
      '/database/retention/dead-letters/{topic}/{id}/replay',
      '/database/retention/dead-letters/{topic}',
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

  it('labels 405 and 413 as such, and bounds every error body', async () => {
    const { instance } = await app();
    const wrongMethod = await instance.inject({ method: 'GET', url: '/database/retention/trigger-archival' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(wrongMethod.json()).toMatchObject({ error: 'Method Not Allowed' });
    expect(wrongMethod.json().message).toContain('use POST');
    const wrongOnParam = await instance.inject({ method: 'GET', url: '/database/retention/chunks/4/retry' });
    expect(wrongOnParam.statusCode).toBe(405);
    const big = await instance.inject({
      method: 'POST',
      url: '/database/retention/retry',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ reason: 'x'.repeat(64 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('Payload Too Large');
    const huge = await instance.inject({
      method: 'POST',
      url: '/database/retention/dead-letters/database.archival.request/1-1/replay',
    });
    expect(huge.statusCode).toBe(409);
    expect(huge.body.length).toBeLessThan(1_200);
    expect(huge.json().message).toMatch(/… \(\d+ characters\)$/);
    await instance.close();
  });

  it('retries chunks by id or by table with a reason, and answers a refusal naming it', async () => {
    const { instance, calls } = await app();
    const one = await instance.inject({
      method: 'POST',
      url: '/database/retention/chunks/4/retry?database=metrics',
      payload: { reason: 'disk fixed' },
    });
    expect(one.statusCode).toBe(200);
    expect(one.json().retried).toHaveLength(1);
    expect(calls).toContainEqual({ id: '4', database: 'metrics', reason: 'disk fixed' });
    const noReason = await instance.inject({
      method: 'POST',
      url: '/database/retention/chunks/4/retry',
      payload: {},
    });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().message).toContain('reason');
    const badState = await instance.inject({
      method: 'POST',
      url: '/database/retention/retry',
      payload: { table: 't', state: 'requested', reason: 'r' },
    });
    expect(badState.statusCode).toBe(400);
    expect(badState.json().message).toContain('state');
    const refused = await instance.inject({
      method: 'POST',
      url: '/database/retention/chunks/9/retry',
      payload: { reason: 'r' },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      error: 'Conflict',
      message: expect.stringContaining('only failed or dead'),
    });
    const missing = await instance.inject('/database/retention/dead-letters/database.archival.request/5-0');
    expect(missing.statusCode).toBe(404);
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
    // A restore that ran but could not bring every chunk back is no success: 500, with its report.
    const partial = await post({ table: 'partial', from: '2020-01-01', to: '2020-02-01' });
    expect(partial.statusCode).toBe(500);
    expect(partial.json()).toMatchObject({ ok: false, source: 'public.partial' });
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
