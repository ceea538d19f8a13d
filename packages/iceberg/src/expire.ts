import { MANIFEST_SUFFIX } from '@chunk-archiver/storage';
import { IcebergError } from './errors.js';
import { snapshotFiles } from './snapshot.js';
import {
  createVersion,
  keyOf,
  metadataKey,
  readCurrent,
  type TableRef,
  uriOf,
  writeHint,
} from './table-io.js';
import type { Snapshot } from './types.js';

export interface ExpireResult {
  version: number | undefined;
  expiredSnapshots: number;
  removedDataFiles: string[];
  removedMetadataFiles: number;
}

/**
 * The paths of a set of snapshots: manifest lists, manifests, and data files (only the ones
 * they list live with `liveOnly`: a deleted entry is history, not a file a reader opens).
 */
async function referencedBy(table: TableRef, snapshots: Snapshot[], liveOnly: boolean) {
  const paths = new Set<string>();
  const dataFiles = new Set<string>();
  for (const snapshot of snapshots) {
    paths.add(snapshot['manifest-list']);
    const { manifests, entries } = await snapshotFiles(table, snapshot);
    for (const m of manifests) paths.add(m.manifest_path);
    for (const e of entries) if (!liveOnly || e.status !== 2) dataFiles.add(e.data_file.file_path);
  }
  return { paths, dataFiles };
}

/**
 * Keeps the newest `keep` snapshots (the current one always among them) and removes the rest:
 * a new metadata version without them, committed like any other; then their manifest lists and
 * manifests, the data files only they referenced (with their sidecar manifests), and metadata
 * versions older than the kept ones. A file some kept snapshot lists is never removed, nor is
 * a file no snapshot ever listed (an upload not committed yet, which its commit will list).
 */
export async function expireSnapshots(table: TableRef, keep: number): Promise<ExpireResult> {
  if (!Number.isInteger(keep) || keep < 1)
    throw new IcebergError('ICEBERG_METADATA_INVALID', 'keep: must be an integer of at least 1');
  for (let attempt = 1; attempt <= 10; attempt++) {
    const current = await readCurrent(table);
    if (!current) throw new IcebergError('ICEBERG_NOT_A_TABLE', `no Iceberg table under ${table.key}`);
    const { metadata } = current;
    const ordered = [...metadata.snapshots].sort((a, b) => a['sequence-number'] - b['sequence-number']);
    const kept = ordered.slice(-keep);
    const expired = ordered.slice(0, -keep);
    if (expired.length === 0)
      return { version: current.version, expiredSnapshots: 0, removedDataFiles: [], removedMetadataFiles: 0 };
    const keptIds = new Set(kept.map((s) => s['snapshot-id']));
    const version = current.version + 1;
    const next = {
      ...metadata,
      'last-updated-ms': Date.now(),
      snapshots: kept,
      'snapshot-log': metadata['snapshot-log'].filter((s) => keptIds.has(s['snapshot-id'])),
      'metadata-log': [
        ...metadata['metadata-log'],
        {
          'metadata-file': uriOf(table, metadataKey(table, current.version)),
          'timestamp-ms': metadata['last-updated-ms'],
        },
      ].slice(-keep),
    };
    const needed = await referencedBy(table, kept, true);
    const gone = await referencedBy(table, expired, false);
    if (!(await createVersion(table, version, next))) continue;
    await writeHint(table, version).catch(() => undefined);
    const removedDataFiles = [...gone.dataFiles].filter((p) => !needed.dataFiles.has(p));
    for (const path of removedDataFiles) {
      const key = keyOf(table, path);
      await table.store.remove(key);
      await table.store.remove(`${key}${MANIFEST_SUFFIX}`);
    }
    for (const path of gone.paths) if (!needed.paths.has(path)) await table.store.remove(keyOf(table, path));
    let removedMetadataFiles = 0;
    // The kept versions are the ones the new metadata log names: keep before this one.
    for (let v = version - keep - 1; v >= 1; v--) {
      if (!(await table.store.stat(metadataKey(table, v)))) break;
      await table.store.remove(metadataKey(table, v));
      removedMetadataFiles++;
    }
    return {
      version,
      expiredSnapshots: expired.length,
      removedDataFiles: removedDataFiles.map((p) => keyOf(table, p)),
      removedMetadataFiles,
    };
  }
  throw new IcebergError(
    'ICEBERG_COMMIT_CONFLICT',
    `expire-snapshots of ${table.key}: lost every commit to other writers`,
    { retryable: true },
  );
}
