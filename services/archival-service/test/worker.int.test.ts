import { createRedisBus, createRedisClient } from '@chunk-archiver/bus';
import { silentLogger } from '@chunk-archiver/common';
import {
  type ArchivalConfirmation,
  buildArchivalRequest,
  parseArchivalConfirmation,
  TOPICS,
} from '@chunk-archiver/events';
import { createS3BlobStore } from '@chunk-archiver/storage';
import {
  duckdbLiteral,
  duckdbQuery,
  redisNamespace,
  type S3rverHandle,
  startS3rver,
  startTimescale,
  type TimescaleHandle,
} from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChunkLocks } from '../src/chunk-lock.js';
import { createCircuitBreaker } from '../src/circuit-breaker.js';
import { createRequestHandler } from '../src/handler.js';
import { createArchivalMetrics } from '../src/metrics.js';
import { createArchivalWorker } from '../src/worker.js';
import { downloadToTemp } from './helpers.js';

describe('archival workers on TimescaleDB hypertable chunks, through the bus, into S3', () => {
  let ts: TimescaleHandle;
  let sql: postgres.Sql;
  let s3: S3rverHandle;

  beforeAll(async () => {
    ts = await startTimescale();
    sql = postgres(ts.url, { max: 4, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
    await sql`create table conditions (time timestamptz not null, device int not null, temp double precision, meta jsonb)`;
    await sql`select create_hypertable('conditions', by_range('time', interval '1 day'))`;
    await sql`insert into conditions
      select t, d, round((random() * 40)::numeric, 3)::float8, jsonb_build_object('d', d)
      from generate_series('2024-01-01'::timestamptz, '2024-01-04 23:59'::timestamptz, interval '1 minute') t,
           generate_series(1, 3) d`;
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await ts?.stop();
    await s3?.stop();
  });

  it('two workers in one group archive every chunk once, and DuckDB reads back the chunk rows', async () => {
    const ns = await redisNamespace('workers');
    const store = await createS3BlobStore({
      bucket: 'archive',
      ...s3.client,
    });
    await store.ensureContainer();
    const bus = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
    const lockRedis = createRedisClient({ url: ns.url });
    const shutdown = new AbortController();
    const breaker = { failureThreshold: 5, resetTimeoutMs: 60_000 };
    const database = {
      sql,
      allowedTables: ['public.conditions'],
      breaker: createCircuitBreaker('ts', breaker),
    };
    const workers = ['w1', 'w2'].map((name) =>
      createArchivalWorker({
        bus,
        consumer: name,
        concurrency: 2,
        visibilityTimeoutMs: 30_000,
        maxDeliveries: 5,
        graceMs: 5_000,
        onGraceExpired: () => shutdown.abort(),
        logger: silentLogger(),
        handler: createRequestHandler({
          databases: new Map([['tsdb', database]]),
          store,
          storageBreaker: createCircuitBreaker('s3', breaker),
          settings: { prefix: 'archive', codec: 'zstd', rowGroupSize: 1000 },
          publish: (topic, event) => bus.publish(topic, event),
          locks: createChunkLocks(() => lockRedis, { keyPrefix: ns.prefix }),
          retry: { attempts: 2, initialMs: 10, maxMs: 50, factor: 2, jitter: 0 },
          metrics: createArchivalMetrics(),
          logger: silentLogger(),
          producer: name,
          signal: shutdown.signal,
        }),
      }),
    );
    const confirmations: ArchivalConfirmation[] = [];
    await bus.consume(
      TOPICS.archivalConfirmation,
      'manager',
      'm',
      async (c: ArchivalConfirmation) => void confirmations.push(c),
      {
        parse: (raw) => parseArchivalConfirmation(raw),
        blockMs: 100,
      },
    );
    try {
      for (const w of workers) await w.start();
      const chunks = await sql<
        { chunk_schema: string; chunk_name: string; range_start: Date; range_end: Date }[]
      >`
        select chunk_schema, chunk_name, range_start, range_end from timescaledb_information.chunks
        where hypertable_name = 'conditions' order by range_start`;
      expect(chunks).toHaveLength(4);
      for (const c of chunks) {
        await bus.publish(
          TOPICS.archivalRequest,
          buildArchivalRequest(
            {
              database: 'tsdb',
              source_kind: 'timescaledb',
              table_schema: 'public',
              table_name: 'conditions',
              chunk_schema: c.chunk_schema,
              chunk_name: c.chunk_name,
              time_column: 'time',
              dimension_type: 'timestamp',
              chunk_start_time: c.range_start.toISOString(),
              chunk_end_time: c.range_end.toISOString(),
              attempt: 1,
              requested_at: new Date().toISOString(),
            },
            { producer: 'test' },
          ),
        );
      }
      const deadline = Date.now() + 60_000;
      while (confirmations.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const failures = confirmations.flatMap((c) => (c.data.status === 'FAILED' ? [c.data.error] : []));
      expect(failures).toEqual([]);
      expect(confirmations.map((c) => c.data.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
      expect(new Set(confirmations.map((c) => c.data.chunk_name)).size).toBe(4);
      expect(new Set(confirmations.map((c) => c.producer)).size).toBeGreaterThanOrEqual(1);

      const first = confirmations.find((c) => c.data.chunk_name === chunks[0]!.chunk_name)!;
      if (first.data.status !== 'SUCCESS') throw new Error('expected success');
      expect(first.data.object.backend).toBe('s3');
      expect(first.data.object.key).toMatch(
        /^archive\/tsdb\/public\.conditions\/year=2024\/month=01\/day=01\//,
      );
      expect(first.data.manifest.row_count).toBe(1440 * 3);

      const local = await downloadToTemp(store, first.data.object.key);
      try {
        const fromParquet = await duckdbQuery(`
          select epoch_us(time)::varchar as t, device, temp, meta::varchar as meta
          from read_parquet(${duckdbLiteral(local.path)}, hive_partitioning = false) order by time, device`);
        const fromDb = await sql.unsafe(`
          select (extract(epoch from time) * 1000000)::bigint::text as t, device, temp, meta::text as meta
          from "${chunks[0]!.chunk_schema}"."${chunks[0]!.chunk_name}" order by time, device`);
        expect(fromParquet).toHaveLength(fromDb.length);
        expect(fromParquet).toEqual(fromDb.map((r) => ({ ...r })));
      } finally {
        await local.cleanup();
      }
    } finally {
      for (const w of workers) await w.stop();
      await bus.close();
      lockRedis.disconnect();
      await store.close?.();
      await ns.cleanup();
    }
  });
});
