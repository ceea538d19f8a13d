import { describe, expect, it } from 'vitest';
import { chunkPartition, type IcebergField, partitionSpecs } from '../src/index.js';

const ts: IcebergField = { id: 2, name: 'ts', required: true, type: 'timestamptz' };
const n: IcebergField = { id: 1, name: 'n', required: true, type: 'long' };
const chunk = (start: string, end: string, integer = false) => ({
  database: 'db',
  source_kind: 'partition' as const,
  table_schema: 'public',
  table_name: 't',
  chunk_schema: 'public',
  chunk_name: 'p',
  time_column: integer ? 'n' : 'ts',
  dimension_type: integer ? ('integer' as const) : ('timestamp' as const),
  chunk_start_time: start,
  chunk_end_time: end,
});

describe('Iceberg partitions of a chunk', () => {
  it('a chunk inside one day or month gets its partition value; one spanning several goes unpartitioned', () => {
    const day = partitionSpecs(ts, { transform: 'day', truncateWidth: 10 });
    expect(day[0]!.fields).toEqual([{ 'source-id': 2, 'field-id': 1000, name: 'ts_day', transform: 'day' }]);
    // 2021-03-02 is day 18688 since 1970-01-01.
    expect(chunkPartition(day, chunk('2021-03-02T00:00:00Z', '2021-03-03T00:00:00Z'))).toEqual({
      specId: 0,
      values: { ts_day: 18688n },
    });
    // A 7-day chunk holds seven days: no single partition value is true of every row.
    expect(chunkPartition(day, chunk('2021-03-04T00:00:00Z', '2021-03-11T00:00:00Z'))).toEqual({
      specId: 1,
      values: {},
    });
    const month = partitionSpecs(ts, { transform: 'month', truncateWidth: 10 });
    expect(chunkPartition(month, chunk('2021-03-04T00:00:00Z', '2021-03-11T00:00:00Z'))).toEqual({
      specId: 0,
      values: { ts_month: 614n },
    });
    expect(chunkPartition(month, chunk('2021-03-29T00:00:00Z', '2021-04-05T00:00:00Z')).specId).toBe(1);
    // The end is exclusive: a month-long partition ending at midnight of the 1st is one month.
    expect(chunkPartition(month, chunk('2021-02-01T00:00:00Z', '2021-03-01T00:00:00Z')).values).toEqual({
      ts_month: 613n,
    });
    expect(chunkPartition(month, chunk('1969-12-01T00:00:00Z', '1970-01-01T00:00:00Z')).values).toEqual({
      ts_month: -1n,
    });
  });

  it('integer time columns are truncated to the configured width', () => {
    const specs = partitionSpecs(n, { transform: 'day', truncateWidth: 1000 });
    expect(specs[0]!.fields[0]).toMatchObject({ name: 'n_trunc', transform: 'truncate[1000]' });
    expect(chunkPartition(specs, chunk('2000', '3000', true)).values).toEqual({ n_trunc: 2000n });
    expect(chunkPartition(specs, chunk('-1000', '0', true)).values).toEqual({ n_trunc: -1000n });
    expect(chunkPartition(specs, chunk('2500', '3500', true)).specId).toBe(1);
  });
});
