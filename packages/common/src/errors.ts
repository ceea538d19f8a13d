/**
 * Base class for every error the archiver raises on purpose. `code` is stable and machine-readable
 * (it travels in FAILED confirmations and the ledger); `message` is for people.
 */
export class ArchiverError extends Error {
  override name = 'ArchiverError';
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Turns anything thrown into an Error, so catch blocks can log and report it uniformly. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(`non-error thrown: ${JSON.stringify(value)}`);
  } catch {
    return new Error(`non-error thrown: ${String(value)}`);
  }
}

/** The stable code of an error when it has one, else a generic code. */
export function errorCode(error: unknown, fallback = 'INTERNAL'): string {
  if (error instanceof ArchiverError) return error.code;
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string')
    return error.code;
  return fallback;
}
