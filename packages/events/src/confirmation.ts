import { z } from 'zod';
import { envelopeShape } from './envelope.js';
import { checkRange, chunkIdentity, isoTimestamp, uuid } from './fields.js';
import { TOPICS } from './topics.js';

export const storageBackend = z.enum(['azure', 's3', 'local']);
export type StorageBackendKind = z.infer<typeof storageBackend>;

export const objectLocation = z
  .object({
    backend: storageBackend,
    container: z.string().min(1).max(255),
    key: z.string().min(1).max(1024),
    manifest_key: z.string().min(1).max(1024),
  })
  .strict();
export type ObjectLocation = z.infer<typeof objectLocation>;

export const columnSummary = z
  .object({
    name: z.string().min(1).max(63),
    pg_type: z.string().min(1).max(200),
    parquet_type: z.string().min(1).max(200),
  })
  .strict();

export const manifestSummary = z
  .object({
    row_count: z.number().int().nonnegative(),
    content_checksum: z.string().regex(/^-?\d{1,40}$/, 'must be a decimal integer'),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters'),
    codec: z.enum(['snappy', 'gzip', 'zstd', 'uncompressed']),
    columns: z.array(columnSummary).max(1600),
  })
  .strict();
export type ManifestSummary = z.infer<typeof manifestSummary>;

export const failureDetail = z
  .object({
    code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'must be an UPPER_SNAKE error code'),
    message: z.string().max(4000),
    retryable: z.boolean(),
  })
  .strict();

const common = {
  ...envelopeShape,
  event_type: z.literal(TOPICS.archivalConfirmation),
};

const identity = chunkIdentity.extend({
  request_event_id: uuid,
  attempt: z.number().int().min(1).max(1000),
  completed_at: isoTimestamp,
});

export const archivalSuccessSchema = z
  .object({
    ...common,
    data: identity
      .extend({ status: z.literal('SUCCESS'), object: objectLocation, manifest: manifestSummary })
      .strict()
      .superRefine(checkRange),
  })
  .strict();

export const archivalFailureSchema = z
  .object({
    ...common,
    data: identity
      .extend({ status: z.literal('FAILED'), error: failureDetail, object: objectLocation.optional() })
      .strict()
      .superRefine(checkRange),
  })
  .strict();

export const archivalConfirmationSchema = z.union([archivalSuccessSchema, archivalFailureSchema]);

export type ArchivalConfirmation = z.infer<typeof archivalConfirmationSchema>;
export type ArchivalConfirmationData = ArchivalConfirmation['data'];
export type ArchivalSuccess = z.infer<typeof archivalSuccessSchema>;
export type ArchivalFailure = z.infer<typeof archivalFailureSchema>;
