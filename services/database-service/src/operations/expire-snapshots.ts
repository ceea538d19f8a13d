import { type ExpireResult, expireSnapshots, IcebergError } from '@chunk-archiver/iceberg';
import type { BlobStore } from '@chunk-archiver/storage';
import { namesTable, type RetentionConfig } from '../config.js';
import { UnknownTableError } from '../errors.js';
import { tableRef } from '../iceberg/format.js';

/** The one configured table `name` means (in `database` when given). */
function configuredTable(config: RetentionConfig, name: string, database: string | undefined) {
  const matches = Object.entries(config.databases)
    .filter(([db]) => !database || db === database)
    .flatMap(([db, c]) =>
      c.tables.filter((t) => namesTable(t, name)).map((t) => ({ database: db, table: t })),
    );
  if (matches.length === 0) throw new UnknownTableError(name, database);
  if (matches.length > 1)
    throw new IcebergError(
      'ICEBERG_NOT_A_TABLE',
      `table: ${name} is configured in ${matches.map((m) => m.database).join(', ')}; say --database`,
    );
  return matches[0]!;
}

/** expire-snapshots of one configured table's Iceberg archive. */
export async function expireTableSnapshots(
  config: RetentionConfig,
  store: BlobStore,
  input: { table: string; database?: string | undefined; keep: number },
): Promise<ExpireResult & { table: string }> {
  const { database, table } = configuredTable(config, input.table, input.database);
  const ref = tableRef(config, store, database, { table_schema: table.schema, table_name: table.name });
  return { table: ref.key, ...(await expireSnapshots(ref, input.keep)) };
}
