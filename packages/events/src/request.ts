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
      })
      .strict()
      .superRefine(checkRange),
  })
  .strict();

export type ArchivalRequest = z.infer<typeof archivalRequestSchema>;
export type ArchivalRequestData = ArchivalRequest['data'];
