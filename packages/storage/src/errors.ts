import { ArchiverError } from '@chunk-archiver/common';

/** A storage call failed; `retryable` says whether trying again later can help. */
export class StorageError extends ArchiverError {
  override name = 'StorageError';
  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, { retryable: true, ...options });
  }
}

/** Network-level and throttling failures are worth retrying; authorisation and bad requests are not. */
export function isRetryableStorageFailure(error: unknown): boolean {
  const e = error as {
    statusCode?: number;
    $metadata?: { httpStatusCode?: number };
    code?: string;
    name?: string;
  };
  const status = e?.statusCode ?? e?.$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status === 408 || status === 429 || status >= 500;
}

export function storageFailure(operation: string, key: string, error: unknown): StorageError {
  const cause = error as Error;
  return new StorageError('STORAGE_ERROR', `${operation} ${key} failed: ${cause?.message ?? String(error)}`, {
    cause: error,
    retryable: isRetryableStorageFailure(error),
  });
}
