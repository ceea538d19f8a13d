import { ArchiverError } from '@chunk-archiver/common';

export class NotLeaderError extends ArchiverError {
  override name = 'NotLeaderError';
  constructor(database: string) {
    super('NOT_LEADER', `another retention manager leads database ${database}`, { retryable: true });
  }
}

export class UnknownTableError extends ArchiverError {
  override name = 'UnknownTableError';
  constructor(table: string, database?: string) {
    super('UNKNOWN_TABLE', `table ${table} is not configured${database ? ` in database ${database}` : ''}`);
  }
}

/**
 * A restore or release that was refused or failed. `field` names the request field at fault when
 * there is one, so the HTTP route can answer 400 instead of 500.
 */
export class RestoreError extends ArchiverError {
  override name = 'RestoreError';
  readonly field: string | undefined;
  constructor(code: string, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.field = options.field;
  }
}
