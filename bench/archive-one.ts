// One archive run in a process of its own, so its peak RSS is the archiver's alone. Prints one
// JSON line with the result. Arguments: url schema table partition storage-json rowGroupSize codec
// [prefix] [request-overrides-json] (a hypertable chunk: source_kind, chunk_schema, range).

// The service's built output, as production runs it (compiled by `pnpm bench` before it starts).
import { archiveChunk } from '@chunk-archiver/archival-service/archive';
import { checkChunk } from '@chunk-archiver/archival-service/catalog-check';
import { createBlobStore, storageConfigSchema } from '@chunk-archiver/storage';
import postgres from 'postgres';

const [url, schema, table, partition, storageJson, rowGroupSize, codec, prefix = 'bench', overrides = '{}'] =
  process.argv.slice(2) as [string, string, string, string, string, string, string, string?, string?];
const storage = storageConfigSchema.parse(JSON.parse(storageJson));
const store = await createBlobStore(storage);
await store.ensureContainer();
const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
const request = {
  database: 'bench',
  source_kind: 'partition' as const,
  table_schema: schema,
  table_name: table,
  chunk_schema: schema,
  chunk_name: partition,
  time_column: 'ts',
  dimension_type: 'timestamp' as const,
  chunk_start_time: '2024-01-01T00:00:00.000Z',
  chunk_end_time: '2025-01-01T00:00:00.000Z',
  attempt: 1,
  requested_at: new Date().toISOString(),
  ...(JSON.parse(overrides) as Partial<{ source_kind: 'timescaledb'; chunk_schema: string }>),
};
// Where the memory goes: the largest heap, external and ArrayBuffer figures seen during the run.
const peak = { heap_used_mb: 0, heap_total_mb: 0, external_mb: 0, array_buffers_mb: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.heap_used_mb = Math.max(peak.heap_used_mb, m.heapUsed / 2 ** 20);
  peak.heap_total_mb = Math.max(peak.heap_total_mb, m.heapTotal / 2 ** 20);
  peak.external_mb = Math.max(peak.external_mb, m.external / 2 ** 20);
  peak.array_buffers_mb = Math.max(peak.array_buffers_mb, m.arrayBuffers / 2 ** 20);
}, 50);
sampler.unref();
const started = performance.now();
await checkChunk(sql, request);
const result = await archiveChunk(
  {
    sql,
    store,
    settings: {
      prefix,
      codec: codec as 'snappy' | 'gzip' | 'zstd' | 'uncompressed',
      rowGroupSize: Number(rowGroupSize),
      ...(process.env.BENCH_ROW_GROUP_BYTES
        ? { rowGroupBytes: Number(process.env.BENCH_ROW_GROUP_BYTES) }
        : {}),
    },
  },
  request,
  '00000000-0000-4000-8000-000000000000',
);
const seconds = (performance.now() - started) / 1000;
await sql.end();
await store.close?.();
process.stdout.write(
  `${JSON.stringify({ seconds, rows: result.manifest.row_count, bytes: result.manifest.bytes, key: result.object.key, timings: result.timings, peak_rss_mb: process.resourceUsage().maxRSS / 1024, memory: peak })}\n`,
);
