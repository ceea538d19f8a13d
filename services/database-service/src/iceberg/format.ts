import { resolve } from 'node:path';
import type { TableRef } from '@chunk-archiver/iceberg';
import {
  type ArchiveLayout,
  type BlobStore,
  type StorageConfig,
  tableArchivePrefix,
} from '@chunk-archiver/storage';
import type { ArchiveFormat, ManagedDatabaseConfig, RetentionConfig, TableConfig } from '../config.js';

type TableName = { table_schema: string; table_name: string };

function tableConfig(db: ManagedDatabaseConfig, row: TableName): TableConfig | undefined {
  return db.tables.find((t) => t.schema === row.table_schema && t.name === row.table_name);
}

/** A table's archive format: its own, else its database's, else parquet. */
export function tableFormat(db: ManagedDatabaseConfig, row: TableName): ArchiveFormat {
  return tableConfig(db, row)?.format ?? db.format ?? 'parquet';
}

/** Where the manager expects a request's archive: from its own config and ledger row only. */
export function layoutOf(
  db: ManagedDatabaseConfig,
  row: TableName & { request_event_id: string | null },
): ArchiveLayout {
  if (tableFormat(db, row) === 'iceberg' && row.request_event_id)
    return { format: 'iceberg', attempt: row.request_event_id };
  return { format: 'parquet' };
}

export function partitionSettings(config: RetentionConfig, db: ManagedDatabaseConfig, row: TableName) {
  return {
    transform: tableConfig(db, row)?.iceberg_partition ?? config.iceberg.partition,
    truncateWidth: config.iceberg.truncate_width,
  };
}

/** `AccountName=…` of a connection string, else the account URL's first host label. */
function azureAccount(storage: StorageConfig, env: NodeJS.ProcessEnv): string {
  const connection = env[storage.azure.connection_string_env] ?? '';
  const named = /AccountName=([^;]+)/i.exec(connection)?.[1];
  if (named) return named;
  if (storage.azure.account_url) return new URL(storage.azure.account_url).hostname.split('.')[0]!;
  return 'devstoreaccount1';
}

/** The URI engines reach the storage root under, when the config does not name one. */
export function defaultLocationBase(storage: StorageConfig, env: NodeJS.ProcessEnv = process.env): string {
  switch (storage.backend) {
    case 's3':
      return `s3://${storage.s3.bucket}`;
    case 'azure':
      return `abfss://${storage.azure.container}@${azureAccount(storage, env)}.dfs.core.windows.net`;
    default:
      return `file://${resolve(storage.local.path, storage.local.container)}`;
  }
}

export function tableRef(
  config: RetentionConfig,
  store: BlobStore,
  database: string,
  row: TableName,
): TableRef {
  return {
    store,
    key: tableArchivePrefix(config.storage.prefix, database, row.table_schema, row.table_name),
    locationBase: config.iceberg.location_base ?? defaultLocationBase(config.storage),
  };
}
