import { z } from 'zod';
import { isoTimestamp, uuid } from './fields.js';
import { SCHEMA_VERSION } from './topics.js';

/** Fields every event carries, whatever its type. */
export const envelopeShape = {
  event_id: uuid,
  schema_version: z.literal(SCHEMA_VERSION, {
    message: `unsupported schema_version (this build reads ${SCHEMA_VERSION})`,
  }),
  occurred_at: isoTimestamp,
  producer: z.string().min(1).max(200),
  /** HMAC-SHA256 (hex) over the canonical JSON of the event without this field. */
  signature: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters')
    .optional(),
};
