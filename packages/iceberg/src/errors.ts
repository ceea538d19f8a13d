import { ArchiverError } from '@chunk-archiver/common';

/** Every code an Iceberg table operation raises, in one table. */
export const ICEBERG_CODES = {
  ICEBERG_SCHEMA_CONFLICT: 'a column was dropped or retyped at the source: a person must decide',
  ICEBERG_FIELD_ID_TAKEN: 'the data file was written for an older schema: archive it again',
  ICEBERG_COMMIT_CONFLICT: 'another writer kept committing first; retried until the bound',
  ICEBERG_METADATA_INVALID: 'the table metadata in storage is not readable Iceberg v2 metadata',
  ICEBERG_NOT_COMMITTED: 'the table metadata read back does not list the data file as expected',
  ICEBERG_NOT_A_TABLE: 'no Iceberg table under the prefix',
} as const;

export type IcebergCode = keyof typeof ICEBERG_CODES;

export class IcebergError extends ArchiverError {
  override name = 'IcebergError';
  declare readonly code: IcebergCode;
  constructor(code: IcebergCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
  }
}
