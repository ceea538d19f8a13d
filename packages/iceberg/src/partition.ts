import type { ChunkIdentity } from '@chunk-archiver/events';
import type { IcebergField, PartitionSpec } from './types.js';

export type TimeTransform = 'day' | 'month';

export interface PartitionSettings {
  /** Transform of a timestamptz time column (default month). */
  transform: TimeTransform;
  /** Width of `truncate` on an integer time column (default 1,000,000). */
  truncateWidth: number;
}

/** Spec 0 partitions by the time column; spec 1 is unpartitioned (a chunk spanning partitions). */
export const PARTITIONED_SPEC_ID = 0;
export const UNPARTITIONED_SPEC_ID = 1;
const PARTITION_FIELD_ID = 1000;

/** How the time column is partitioned: a transform the spec names, or none for this type. */
function transformOf(time: IcebergField, settings: PartitionSettings): string | undefined {
  if (time.type === 'timestamptz') return settings.transform;
  if (time.type === 'int' || time.type === 'long') return `truncate[${settings.truncateWidth}]`;
  return undefined;
}

/** The table's two specs: partitioned by the time column when its type allows, and unpartitioned. */
export function partitionSpecs(time: IcebergField, settings: PartitionSettings): PartitionSpec[] {
  const transform = transformOf(time, settings);
  const partitioned: PartitionSpec = {
    'spec-id': PARTITIONED_SPEC_ID,
    fields: transform
      ? [
          {
            'source-id': time.id,
            'field-id': PARTITION_FIELD_ID,
            name: `${time.name}_${transform.startsWith('truncate') ? 'trunc' : transform}`,
            transform,
          },
        ]
      : [],
  };
  return [partitioned, { 'spec-id': UNPARTITIONED_SPEC_ID, fields: [] }];
}

const MICROS_PER_DAY = 86_400_000_000n;
const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

function transformValue(transform: string, value: bigint): bigint {
  if (transform === 'day') return floorDiv(value, MICROS_PER_DAY);
  if (transform === 'month') {
    const d = new Date(Number(floorDiv(value, 1000n)));
    return BigInt((d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth());
  }
  const width = BigInt(/^truncate\[(\d+)\]$/.exec(transform)![1]!);
  return value - (((value % width) + width) % width);
}

/** The chunk's range as values of the time column: [first, last], both inclusive. */
export function chunkBounds(chunk: ChunkIdentity): { first: bigint; last: bigint } {
  if (chunk.dimension_type === 'integer')
    return { first: BigInt(chunk.chunk_start_time), last: BigInt(chunk.chunk_end_time) - 1n };
  return { first: micros(chunk.chunk_start_time), last: micros(chunk.chunk_end_time) - 1n };
}

/**
 * Where a chunk's data file goes: the partitioned spec with its value when every row of the
 * chunk's range maps to one partition value, else the unpartitioned spec (a data file belongs to
 * exactly one partition, and a 7-day chunk holds seven days).
 */
export function chunkPartition(
  specs: PartitionSpec[],
  chunk: ChunkIdentity,
): { specId: number; values: Record<string, bigint> } {
  const field = specs.find((s) => s['spec-id'] === PARTITIONED_SPEC_ID)?.fields[0];
  if (!field) return { specId: PARTITIONED_SPEC_ID, values: {} };
  const { first, last } = chunkBounds(chunk);
  const a = transformValue(field.transform, first);
  const b = transformValue(field.transform, last);
  if (a !== b) return { specId: UNPARTITIONED_SPEC_ID, values: {} };
  return { specId: PARTITIONED_SPEC_ID, values: { [field.name]: a } };
}

/** Iceberg's single-value serialization (little-endian) of an int or long value. */
export function singleValue(type: 'int' | 'long' | 'date', value: bigint): Buffer {
  if (type === 'long') {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(value);
    return b;
  }
  const b = Buffer.alloc(4);
  b.writeInt32LE(Number(value));
  return b;
}

/** The Avro/serialization type of a partition field's values. */
export function partitionValueType(transform: string, source: IcebergField): 'int' | 'long' | 'date' {
  if (transform === 'day') return 'date';
  if (transform === 'month') return 'int';
  return source.type === 'long' ? 'long' : 'int';
}

/** Column bounds of the time column from the chunk's range (valid: every row lies inside it). */
export function timeBounds(
  time: IcebergField,
  chunk: ChunkIdentity,
): { lower: Buffer; upper: Buffer } | undefined {
  if (time.type !== 'timestamptz' && time.type !== 'long' && time.type !== 'int') return undefined;
  const { first, last } = chunkBounds(chunk);
  const type = time.type === 'int' ? 'int' : 'long';
  if (type === 'int' && (first < -(2n ** 31n) || last >= 2n ** 31n)) return undefined;
  return { lower: singleValue(type, first), upper: singleValue(type, last) };
}
