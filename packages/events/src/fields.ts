import { z } from 'zod';

/** A configured database name: the message names it, configuration says how to reach it. */
export const databaseName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/, 'must be a configured database name (letters, digits, _ . -)');

/**
 * A PostgreSQL identifier as it is stored in the catalog. Any character is legal in a quoted
 * identifier, so this only bounds the length and refuses NUL and control characters; the real
 * defence is that the chunk must exist in the catalog under the configured table, and that
 * identifiers are escaped by the driver.
 */
export const pgIdentifier = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters (PostgreSQL NAMEDATALEN)')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

export const isoTimestamp = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 timestamp with offset',
});

export const uuid = z.uuid({ message: 'must be a UUID' });

/** A hypertable chunk, a range partition, or a time window `[start, end)` of a plain table. */
export const sourceKind = z.enum(['timescaledb', 'partition', 'table']);
export type SourceKind = z.infer<typeof sourceKind>;

export const dimensionType = z.enum(['timestamp', 'integer']);
export type DimensionType = z.infer<typeof dimensionType>;

/** A range bound: an ISO timestamp for time dimensions, a decimal integer for integer ones. */
export const rangeBound = z
  .string()
  .max(40, 'is too long')
  .regex(/^(-?\d{1,19}|\d{4}-\d{2}-\d{2}T.+)$/, {
    message: 'must be an ISO-8601 timestamp or a decimal integer',
  });

/** A decimal int8, as PostgreSQL prints it (hash-dimension bounds reach ±2^63). */
const int8Text = z.string().regex(/^-?\d{1,19}$/, 'must be a decimal integer');

/**
 * A hypertable chunk's slice of one secondary dimension (a space/hash partition, or a second open
 * dimension), in TimescaleDB's internal bounds. Chunks of different space partitions share a time
 * range; their slices tell them apart.
 */
export const dimensionSlice = z.object({ column: pgIdentifier, start: int8Text, end: int8Text }).strict();
export type DimensionSlice = z.infer<typeof dimensionSlice>;

/** The identity of one chunk, carried by requests and echoed by confirmations. */
export const chunkIdentity = z.object({
  database: databaseName,
  source_kind: sourceKind,
  table_schema: pgIdentifier,
  table_name: pgIdentifier,
  chunk_schema: pgIdentifier,
  chunk_name: pgIdentifier,
  time_column: pgIdentifier,
  dimension_type: dimensionType.default('timestamp'),
  chunk_start_time: rangeBound,
  chunk_end_time: rangeBound,
  /**
   * The chunk table's OID when it was discovered. A table dropped and re-created under the same
   * name gets a new OID, so it is a new chunk with an archive of its own.
   */
  chunk_oid: z
    .string()
    .regex(/^[1-9]\d{0,9}$/, 'must be a PostgreSQL OID')
    .optional(),
  /** Secondary dimension slices, primary dimension excluded; absent or empty for one dimension. */
  dimension_slices: z.array(dimensionSlice).max(16).optional(),
});
export type ChunkIdentity = z.infer<typeof chunkIdentity>;

/** Checks the bounds fit the dimension type and that start < end. */
export function checkRange(value: ChunkIdentity, ctx: z.RefinementCtx): void {
  const { dimension_type: type, chunk_start_time: start, chunk_end_time: end } = value;
  // A window is a slice of the table itself: there is no other relation it could name.
  if (value.source_kind === 'table') {
    if (value.chunk_schema !== value.table_schema)
      ctx.addIssue({
        code: 'custom',
        path: ['chunk_schema'],
        message: 'must equal table_schema for a table window',
      });
    if (value.chunk_name !== value.table_name)
      ctx.addIssue({
        code: 'custom',
        path: ['chunk_name'],
        message: 'must equal table_name for a table window',
      });
  }
  if (type === 'integer') {
    const isInt = (s: string) => /^-?\d{1,19}$/.test(s);
    if (!isInt(start))
      ctx.addIssue({ code: 'custom', path: ['chunk_start_time'], message: 'must be an integer' });
    if (!isInt(end))
      ctx.addIssue({ code: 'custom', path: ['chunk_end_time'], message: 'must be an integer' });
    if (isInt(start) && isInt(end) && BigInt(start) >= BigInt(end)) {
      ctx.addIssue({ code: 'custom', path: ['chunk_end_time'], message: 'must be after chunk_start_time' });
    }
    return;
  }
  const startOk = isoTimestamp.safeParse(start).success;
  const endOk = isoTimestamp.safeParse(end).success;
  if (!startOk)
    ctx.addIssue({
      code: 'custom',
      path: ['chunk_start_time'],
      message: 'must be an ISO-8601 timestamp with offset',
    });
  if (!endOk)
    ctx.addIssue({
      code: 'custom',
      path: ['chunk_end_time'],
      message: 'must be an ISO-8601 timestamp with offset',
    });
  if (startOk && endOk && Date.parse(start) >= Date.parse(end)) {
    ctx.addIssue({ code: 'custom', path: ['chunk_end_time'], message: 'must be after chunk_start_time' });
  }
}
