import { randomUUID } from 'node:crypto';

export function requestData(overrides: Record<string, unknown> = {}) {
  return {
    database: 'metrics',
    source_kind: 'timescaledb' as const,
    table_schema: 'public',
    table_name: 'conditions',
    chunk_schema: '_timescaledb_internal',
    chunk_name: '_hyper_1_1_chunk',
    time_column: 'time',
    dimension_type: 'timestamp' as const,
    chunk_start_time: '2024-01-01T00:00:00.000Z',
    chunk_end_time: '2024-01-08T00:00:00.000Z',
    attempt: 1,
    requested_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export function requestEvent(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    event_id: randomUUID(),
    event_type: 'database.archival.request',
    schema_version: 1,
    occurred_at: '2026-01-01T00:00:00.000Z',
    producer: 'database-service@test',
    data: requestData(data),
    ...overrides,
  };
}

export function successData(overrides: Record<string, unknown> = {}) {
  const { attempt, requested_at: _r, ...identity } = requestData();
  return {
    ...identity,
    attempt,
    request_event_id: randomUUID(),
    completed_at: '2026-01-01T00:01:00.000Z',
    status: 'SUCCESS' as const,
    object: {
      backend: 'azure' as const,
      container: 'archive',
      key: 'a/b.parquet',
      manifest_key: 'a/b.parquet.manifest.json',
    },
    manifest: {
      row_count: 10,
      content_checksum: '-1234567890123',
      bytes: 2048,
      sha256: 'a'.repeat(64),
      codec: 'snappy' as const,
      columns: [{ name: 'time', pg_type: 'timestamptz', parquet_type: 'INT64 TIMESTAMP(MICROS,UTC)' }],
    },
    ...overrides,
  };
}
