import { decodeFile } from './avro.js';
import { IcebergError } from './errors.js';
import { keyOf, type TableRef } from './table-io.js';
import type { ManifestEntry, ManifestFile, Snapshot, TableMetadata } from './types.js';

export function currentSnapshot(metadata: TableMetadata): Snapshot | undefined {
  const id = metadata['current-snapshot-id'];
  if (id === undefined || id < 0) return undefined;
  const snapshot = metadata.snapshots.find((s) => s['snapshot-id'] === id);
  if (!snapshot)
    throw new IcebergError('ICEBERG_METADATA_INVALID', `current snapshot ${id} is not among the snapshots`);
  return snapshot;
}

export async function readManifestList(table: TableRef, snapshot: Snapshot): Promise<ManifestFile[]> {
  return decodeFile<ManifestFile>(await table.store.read(keyOf(table, snapshot['manifest-list'])));
}

export interface SnapshotFiles {
  manifests: ManifestFile[];
  /** Entries of every manifest, with inherited sequence numbers filled in. */
  entries: Array<ManifestEntry & { specId: number }>;
}

/** Every manifest entry of one snapshot (live and deleted), as the spec's inheritance rules read them. */
export async function snapshotFiles(table: TableRef, snapshot: Snapshot): Promise<SnapshotFiles> {
  const manifests = await readManifestList(table, snapshot);
  const entries: SnapshotFiles['entries'] = [];
  for (const manifest of manifests) {
    const decoded = await decodeFile<ManifestEntry>(
      await table.store.read(keyOf(table, manifest.manifest_path)),
    );
    for (const entry of decoded) {
      entries.push({
        ...entry,
        snapshot_id: entry.snapshot_id ?? manifest.added_snapshot_id,
        sequence_number: entry.sequence_number ?? manifest.sequence_number,
        file_sequence_number: entry.file_sequence_number ?? manifest.sequence_number,
        specId: manifest.partition_spec_id,
      });
    }
  }
  return { manifests, entries };
}

/** The data files a reader of the snapshot sees: every entry not deleted. */
export async function liveEntries(table: TableRef, metadata: TableMetadata) {
  const snapshot = currentSnapshot(metadata);
  if (!snapshot) return [];
  return (await snapshotFiles(table, snapshot)).entries.filter((e) => e.status !== 2);
}
