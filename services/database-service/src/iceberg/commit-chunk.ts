import { coerceError, failpoint } from '@chunk-archiver/common';
import {
  commitChunkFile,
  committedProblem,
  expireSnapshots,
  IcebergError,
  type IcebergField,
  type TableRef,
} from '@chunk-archiver/iceberg';
import { archiveKeys, type BlobStore, readManifestAt } from '@chunk-archiver/storage';
import type { RetentionConfig } from '../config.js';
import { ledgerIdentity } from '../ledger/identity.js';
import type { LedgerChunk } from '../ledger/types.js';
import type { ManagedDatabase } from '../managed-database.js';
import { markDeadFromArchived, markForReArchive, recordNote } from '../sql/transitions.js';
import { partitionSettings, tableFormat, tableRef } from './format.js';

export type CommitOutcome = 'not-iceberg' | 'committed' | 'already-committed' | 'refused';

/** Commits of one table run one after another in this process; storage arbitrates between processes. */
function serialized<T>(db: ManagedDatabase, table: string, work: () => Promise<T>): Promise<T> {
  const previous = db.icebergCommits.get(table) ?? Promise.resolve();
  const next = previous.then(work, work);
  const tail = next.catch(() => undefined);
  db.icebergCommits.set(table, tail);
  void tail.then(() => {
    if (db.icebergCommits.get(table) === tail) db.icebergCommits.delete(table);
  });
  return next;
}

/** Past keep_snapshots + 10, the oldest snapshots go: best effort, the commit stands either way. */
async function expireOld(
  db: ManagedDatabase,
  table: TableRef,
  keep: number,
  snapshots: number,
): Promise<void> {
  if (keep === 0 || snapshots <= keep + 10) return;
  try {
    const expired = await expireSnapshots(table, keep);
    db.logger.info(
      { table: table.key, expired: expired.expiredSnapshots, removed: expired.removedDataFiles.length },
      'expired old Iceberg snapshots',
    );
  } catch (error) {
    db.logger.warn(
      { err: coerceError(error), table: table.key },
      'expiring old Iceberg snapshots failed; the next commit tries again',
    );
  }
}

/** The data file's fields, from the manifest the manager verified (never from a message). */
async function verifiedFields(store: BlobStore, row: LedgerChunk): Promise<IcebergField[] | undefined> {
  const read = await readManifestAt(store, row.manifest_key!);
  if (!read.manifest)
    throw new IcebergError(
      'ICEBERG_NOT_COMMITTED',
      `manifest ${row.manifest_key}: ${read.problem?.message}`,
      { retryable: true },
    );
  return read.manifest.iceberg?.fields as IcebergField[] | undefined;
}

/** What a commit that cannot go on does to the chunk: the schema needs a person; stale ids, a new archive. */
async function settle(db: ManagedDatabase, row: LedgerChunk, error: IcebergError): Promise<CommitOutcome> {
  if (error.code === 'ICEBERG_SCHEMA_CONFLICT') {
    await markDeadFromArchived(db.sql, row.id, error.code, error.message);
    db.logger.error({ code: error.code, chunk: `${row.chunk_schema}.${row.chunk_name}` }, error.message);
    return 'refused';
  }
  await markForReArchive(db.sql, row.id, ['archived'], error.code, error.message);
  db.logger.warn(
    { code: error.code, chunk: `${row.chunk_schema}.${row.chunk_name}` },
    `archiving again: ${error.message}`,
  );
  return 'refused';
}

/**
 * An archived chunk of an Iceberg table is dropped only once its data file is in the table: this
 * commits it (unless the current snapshot lists it already: a restarted manager never commits a
 * file twice) and reads the table back to check the snapshot lists it with the ledger's record
 * count and size. Throws when storage does not answer or keeps losing races: the chunk stays
 * archived and the next scan tries again.
 */
export async function ensureCommitted(
  deps: { store: BlobStore; config: RetentionConfig },
  db: ManagedDatabase,
  row: LedgerChunk,
): Promise<CommitOutcome> {
  if (tableFormat(db.config, row) !== 'iceberg' || row.state !== 'archived') return 'not-iceberg';
  const identity = ledgerIdentity(db.name, row);
  const keys = archiveKeys(deps.config.storage.prefix, identity, {
    format: 'iceberg',
    attempt: row.request_event_id ?? '',
  });
  if (row.object_key !== keys.dataKey) {
    // Archived as plain Parquet before the table was switched to Iceberg: the verified object stands.
    if (row.object_key === archiveKeys(deps.config.storage.prefix, identity).dataKey) return 'not-iceberg';
    throw new IcebergError(
      'ICEBERG_NOT_COMMITTED',
      `archived object ${row.object_key} is neither this attempt's Iceberg data file ${keys.dataKey} nor the chunk's Parquet object`,
    );
  }
  const fields = await verifiedFields(deps.store, row);
  if (!fields)
    throw new IcebergError('ICEBERG_NOT_COMMITTED', `manifest ${row.manifest_key} records no Iceberg fields`);
  const table = tableRef(deps.config, deps.store, db.name, row);
  const file = { key: keys.dataKey, rows: Number(row.row_count), bytes: Number(row.bytes) };
  await failpoint('iceberg.before-commit', {
    database: db.name,
    chunk: `${row.chunk_schema}.${row.chunk_name}`,
  });
  let result: Awaited<ReturnType<typeof commitChunkFile>>;
  try {
    result = await serialized(db, table.key, async () => {
      const committed = await commitChunkFile(
        table,
        {
          chunk: identity,
          ...file,
          stem: keys.stem,
          sha256: row.sha256!,
          contentChecksum: row.content_checksum!,
          fields,
        },
        {
          partition: partitionSettings(deps.config, db.config, row),
          maxAttempts: deps.config.iceberg.commit_attempts,
        },
      );
      await expireOld(db, table, deps.config.iceberg.keep_snapshots, committed.snapshots);
      return committed;
    });
  } catch (error) {
    if (
      error instanceof IcebergError &&
      (error.code === 'ICEBERG_SCHEMA_CONFLICT' || error.code === 'ICEBERG_FIELD_ID_TAKEN')
    )
      return settle(db, row, error);
    throw error;
  }
  const problem = await committedProblem(table, file);
  if (problem) throw new IcebergError('ICEBERG_NOT_COMMITTED', problem, { retryable: true });
  if (result.outcome === 'committed') {
    const replaced = result.replaced.length ? `, replacing ${result.replaced.length} earlier file(s)` : '';
    await recordNote(
      db.sql,
      row.id,
      row.state,
      `committed to Iceberg v${result.version}, snapshot ${result.snapshotId}${replaced}`,
    );
    db.logger.info(
      { chunk: `${row.chunk_schema}.${row.chunk_name}`, version: result.version, attempts: result.attempts },
      'committed to the Iceberg table',
    );
  }
  return result.outcome;
}
