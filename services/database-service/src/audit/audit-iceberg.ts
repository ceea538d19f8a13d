import { coerceError } from '@chunk-archiver/common';
import { currentSnapshot, keyOf, openTable, snapshotFiles } from '@chunk-archiver/iceberg';
import type { BlobStore } from '@chunk-archiver/storage';

export type IcebergProblemCode =
  | 'ICEBERG_FILE_MISSING'
  | 'ICEBERG_FILE_UNREFERENCED'
  | 'ICEBERG_METADATA_INVALID';

export interface IcebergAudit {
  /** `<…>/<schema>.<table>/` of every Iceberg table found. */
  tables: string[];
  /** Data files the current snapshots list. */
  liveFiles: number;
  problems: Array<{ code: IcebergProblemCode; key: string; message: string }>;
}

const METADATA = /^(.*\/)metadata\/[^/]+$/;

/** The folders holding an Iceberg table, from the keys under `<table>/metadata/`. */
export function icebergTables(keys: Iterable<string>): Set<string> {
  const tables = new Set<string>();
  for (const key of keys) {
    const match = METADATA.exec(key);
    if (match && key.endsWith('.metadata.json')) tables.add(match[1]!);
  }
  return tables;
}

export const isIcebergMetadata = (key: string, tables: Set<string>) => {
  const match = METADATA.exec(key);
  return match !== null && tables.has(match[1]!);
};

/**
 * Each Iceberg table against storage: every data file its current snapshot lists must exist
 * (and is checked against its manifest by the caller, like any object), and every Parquet file
 * under its `data/` that no snapshot still kept lists is reported (an upload not committed yet,
 * or a file a commit replaced that expire-snapshots has not removed).
 */
export async function auditIcebergTables(store: BlobStore, keys: Set<string>): Promise<IcebergAudit> {
  const audit: IcebergAudit = { tables: [], liveFiles: 0, problems: [] };
  for (const key of [...icebergTables(keys)].sort()) {
    audit.tables.push(key);
    try {
      const opened = await openTable(store, key);
      if (!opened) continue;
      const { table, current } = opened;
      const referenced = new Set<string>();
      for (const snapshot of current.metadata.snapshots) {
        const { entries } = await snapshotFiles(table, snapshot);
        const live = snapshot === currentSnapshot(current.metadata);
        for (const entry of entries) {
          const dataKey = keyOf(table, entry.data_file.file_path);
          referenced.add(dataKey);
          if (!live || entry.status === 2) continue;
          audit.liveFiles++;
          if (!keys.has(dataKey))
            audit.problems.push({
              code: 'ICEBERG_FILE_MISSING',
              key: dataKey,
              message: `listed by the current snapshot of ${key} (v${current.version}) but not in storage`,
            });
        }
      }
      for (const other of keys) {
        if (other.startsWith(`${key}data/`) && other.endsWith('.parquet') && !referenced.has(other))
          audit.problems.push({
            code: 'ICEBERG_FILE_UNREFERENCED',
            key: other,
            message: `in ${key}data/ but in no snapshot of the table (not committed yet, or replaced)`,
          });
      }
    } catch (error) {
      audit.problems.push({ code: 'ICEBERG_METADATA_INVALID', key, message: coerceError(error).message });
    }
  }
  return audit;
}
