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

/**
 * An operator's request (retry, dead letters) that was refused. `status` is how HTTP answers it;
 * the CLI exits 1 with the message. `field` names the request field or flag at fault.
 */
export class OperatorError extends ArchiverError {
  override name = 'OperatorError';
  readonly status: 400 | 404 | 409;
  readonly field: string | undefined;
  constructor(code: OperatorErrorCode, message: string, field?: string) {
    super(code, message);
    this.status = OPERATOR_STATUS[code];
    this.field = field;
  }
}

/** Every refusal an operator can meet, and the HTTP status it answers with. */
export const OPERATOR_STATUS = {
  UNKNOWN_DATABASE: 404,
  DATABASE_REQUIRED: 400,
  UNKNOWN_CHUNK: 404,
  NOT_RETRYABLE: 409,
  SELECTOR_REQUIRED: 400,
  UNKNOWN_TOPIC: 404,
  UNKNOWN_DEAD_LETTER: 404,
  NOT_REPLAYABLE: 409,
} as const;
export type OperatorErrorCode = keyof typeof OPERATOR_STATUS;
