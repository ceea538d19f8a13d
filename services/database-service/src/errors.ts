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
