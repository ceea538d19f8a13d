import { z } from 'zod';
import { envelopeShape } from './envelope.js';
import { checkRange, chunkIdentity, isoTimestamp } from './fields.js';
import { TOPICS } from './topics.js';

export const archivalRequestSchema = z
  .object({
    ...envelopeShape,
    event_type: z.literal(TOPICS.archivalRequest),
    data: chunkIdentity
      .extend({
        attempt: z.number().int().min(1).max(1000),
        requested_at: isoTimestamp,
        /**
         * How the archive is laid out: a Parquet object per chunk (default), or a data file of the
         * table's Iceberg table, under a key unique to this request (the manager commits it).
         */
        archive_format: z.enum(['parquet', 'iceberg']).optional(),
      })
      .strict()
      .superRefine(checkRange),
  })
  .strict();

export type ArchivalRequest = z.infer<typeof archivalRequestSchema>;
export type ArchivalRequestData = ArchivalRequest['data'];
