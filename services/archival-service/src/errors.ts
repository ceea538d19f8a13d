import { ArchiverError } from '@chunk-archiver/common';

/**
 * Stable codes of a FAILED confirmation. `retryable: false` means the same request will fail the
 * same way: the manager marks the chunk dead instead of retrying.
 */
export const FAILURE = {
  DATABASE_NOT_CONFIGURED: { retryable: false },
  TABLE_NOT_ALLOWED: { retryable: false },
  SYSTEM_SCHEMA: { retryable: false },
  TIMESCALEDB_MISSING: { retryable: false },
  CHUNK_NOT_FOUND: { retryable: false },
  RANGE_MISMATCH: { retryable: false },
  CHUNK_REPLACED: { retryable: false },
  NOT_A_PLAIN_TABLE: { retryable: false },
  NUMERIC_NOT_REPRESENTABLE: { retryable: false },
  UNPARSEABLE_VALUE: { retryable: false },
  VERIFY_MISMATCH: { retryable: true },
  EXTRACTION_INCOMPLETE: { retryable: true },
  CIRCUIT_OPEN: { retryable: true },
  DATABASE_ERROR: { retryable: true },
  STORAGE_ERROR: { retryable: true },
  SHUTTING_DOWN: { retryable: true },
  CHUNK_BUSY: { retryable: true },
  INTERNAL: { retryable: true },
} as const satisfies Record<string, { retryable: boolean }>;

export type FailureCode = keyof typeof FAILURE;

export class ArchiveError extends ArchiverError {
  override name = 'ArchiveError';
  constructor(code: FailureCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: FAILURE[code].retryable });
  }
}
