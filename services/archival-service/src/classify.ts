import { ArchiverError, coerceError, DeadlineError } from '@chunk-archiver/common';
import { StorageError } from '@chunk-archiver/storage';
import { ArchiveError, FAILURE, type FailureCode } from './errors.js';

export interface Classified {
  code: FailureCode;
  message: string;
  retryable: boolean;
  /** Which dependency the failure counts against, for the circuit breakers. */
  blame: 'database' | 'storage' | 'none';
}

/** Turns whatever an archive attempt threw into a FAILED confirmation's code and retryability. */
export function classifyFailure(error: unknown): Classified {
  const err = coerceError(error);
  if (err instanceof ArchiveError) {
    return { code: err.code as FailureCode, message: err.message, retryable: err.retryable, blame: 'none' };
  }
  if (err instanceof DeadlineError)
    return { code: 'DATABASE_ERROR', message: err.message, retryable: true, blame: 'database' };
  if (err instanceof StorageError)
    return { code: 'STORAGE_ERROR', message: err.message, retryable: err.retryable, blame: 'storage' };
  if (err instanceof ArchiverError && err.code in FAILURE) {
    const code = err.code as FailureCode;
    return { code, message: err.message, retryable: FAILURE[code].retryable, blame: 'none' };
  }
  const e = err as Error & { code?: string; severity?: string };
  if (e.name === 'PostgresError' && typeof e.code === 'string') {
    if (e.code === '42P01')
      return {
        code: 'CHUNK_NOT_FOUND',
        message: `chunk disappeared during extraction: ${e.message}`,
        retryable: false,
        blame: 'none',
      };
    // Retryable whatever the SQLSTATE: the manager's backoff and attempt limit turn a lasting
    // failure into `dead`, while a refusal here would lose a chunk to a passing fault.
    return { code: 'DATABASE_ERROR', message: `${e.code}: ${e.message}`, retryable: true, blame: 'database' };
  }
  // postgres.js connection failures: CONNECTION_CLOSED, CONNECT_TIMEOUT, ECONNREFUSED, ...
  if (typeof e.code === 'string' && /^(CONNECT|CONNECTION|E[A-Z]+$)/.test(e.code)) {
    return { code: 'DATABASE_ERROR', message: `${e.code}: ${e.message}`, retryable: true, blame: 'database' };
  }
  return { code: 'INTERNAL', message: e.message, retryable: true, blame: 'none' };
}
