import { coerceError } from '@chunk-archiver/common';
import {
  type BlobStore,
  checkFetchedBytes,
  type IntegrityCode,
  MANIFEST_SUFFIX,
  readManifestAt,
} from '@chunk-archiver/storage';
import { fetchObject } from '../restore/fetch-object.js';
import { openArchivedParquet, readArchivedRows } from '../restore/parquet-rows.js';
import {
  auditIcebergTables,
  type IcebergProblemCode,
  icebergTables,
  isIcebergMetadata,
} from './audit-iceberg.js';

/** The archive-integrity codes (packages/storage), and what only reading the Parquet file can find. */
export type ProblemCode =
  | IntegrityCode
  | 'PARQUET_UNREADABLE'
  | 'ROW_COUNT_MISMATCH'
  | 'SCHEMA_MISMATCH'
  | 'ORPHAN_OBJECT'
  | IcebergProblemCode;

export interface AuditProblem {
  code: ProblemCode;
  key: string;
  message: string;
}

export interface AuditProgress {
  checked: number;
  total: number;
  bytes: number;
  key: string;
}

export interface AuditReport {
  backend: string;
  container: string;
  prefix: string;
  objects: number;
  manifests: number;
  verified: number;
  bytes_read: number;
  rows: number;
  deep: boolean;
  /** Iceberg tables found, and the data files their current snapshots list. */
  iceberg_tables: string[];
  iceberg_live_files: number;
  problems: AuditProblem[];
  ok: boolean;
}

/**
 * Walks the archive under a prefix and checks every object against its manifest: the bytes
 * (size and a fresh sha256), the sha256 stored with the object, the Parquet footer's row count
 * and columns, and with `deep` every value decoded. Lists data objects without a manifest,
 * manifests without an object, and anything else found there.
 */
export async function auditArchive(
  store: BlobStore,
  options: { prefix: string; deep?: boolean; tmpDir?: string; onProgress?: (p: AuditProgress) => void },
): Promise<AuditReport> {
  const prefix = options.prefix;
  const data = new Map<string, number>();
  const manifests: string[] = [];
  const problems: AuditProblem[] = [];
  let objects = 0;
  const listed: Array<{ key: string; bytes: number }> = [];
  for await (const item of store.list(prefix)) listed.push(item);
  const keys = new Set(listed.map((i) => i.key));
  const tables = icebergTables(keys);
  for (const item of listed) {
    objects++;
    if (isIcebergMetadata(item.key, tables)) continue;
    if (item.key.endsWith(MANIFEST_SUFFIX)) manifests.push(item.key);
    else if (item.key.endsWith('.parquet')) data.set(item.key, item.bytes);
    else
      problems.push({
        code: 'ORPHAN_OBJECT',
        key: item.key,
        message: 'neither an archived chunk nor a manifest (a leftover upload, or written by something else)',
      });
  }
  const described = new Set<string>();
  const report: AuditReport = {
    backend: store.backend,
    container: store.container,
    prefix,
    objects,
    manifests: manifests.length,
    verified: 0,
    bytes_read: 0,
    rows: 0,
    deep: options.deep ?? false,
    iceberg_tables: [],
    iceberg_live_files: 0,
    problems,
    ok: false,
  };
  manifests.sort();
  let checked = 0;
  for (const manifestKey of manifests) {
    const dataKey = manifestKey.slice(0, -MANIFEST_SUFFIX.length);
    described.add(dataKey);
    options.onProgress?.({ checked, total: manifests.length, bytes: report.bytes_read, key: dataKey });
    const found = await checkOne(store, manifestKey, dataKey, data.has(dataKey), options);
    problems.push(...found.problems);
    report.bytes_read += found.bytes;
    report.rows += found.rows;
    if (found.problems.length === 0) report.verified++;
    checked++;
  }
  options.onProgress?.({ checked, total: manifests.length, bytes: report.bytes_read, key: '' });
  for (const key of [...data.keys()].sort()) {
    if (!described.has(key)) {
      problems.push({
        code: 'MANIFEST_MISSING',
        key,
        message: `no manifest ${key}${MANIFEST_SUFFIX} beside it`,
      });
    }
  }
  const iceberg = await auditIcebergTables(store, keys);
  report.iceberg_tables = iceberg.tables;
  report.iceberg_live_files = iceberg.liveFiles;
  problems.push(...iceberg.problems);
  report.ok = problems.length === 0;
  return report;
}

async function checkOne(
  store: BlobStore,
  manifestKey: string,
  dataKey: string,
  dataExists: boolean,
  options: { deep?: boolean; tmpDir?: string },
): Promise<{ problems: AuditProblem[]; bytes: number; rows: number }> {
  const problems: AuditProblem[] = [];
  const problem = (code: ProblemCode, key: string, message: string) => problems.push({ code, key, message });
  const { manifest, problem: unfit } = await readManifestAt(store, manifestKey);
  if (unfit) problems.push(unfit);
  if (!manifest) return { problems, bytes: 0, rows: 0 };
  if (!dataExists) {
    problem('OBJECT_MISSING', dataKey, `manifest ${manifestKey} describes an object that does not exist`);
    return { problems, bytes: 0, rows: 0 };
  }
  let fetched: Awaited<ReturnType<typeof fetchObject>>;
  try {
    fetched = await fetchObject(store, dataKey, options.tmpDir);
  } catch (error) {
    problem('READ_FAILED', dataKey, `could not read the object: ${coerceError(error).message}`);
    return { problems, bytes: 0, rows: 0 };
  }
  try {
    // Against the manifest, and against the hash recorded at upload (bit rot, or a write that
    // bypassed the archiver, changes the bytes under it).
    const info = await store.stat(dataKey);
    problems.push(...checkFetchedBytes(fetched, { ...manifest, object_key: dataKey }, info?.sha256));
    let rows = 0;
    try {
      const parquet = await openArchivedParquet(fetched.path);
      rows = parquet.rowCount;
      if (parquet.rowCount !== manifest.row_count) {
        problem(
          'ROW_COUNT_MISMATCH',
          dataKey,
          `the file holds ${parquet.rowCount} rows; the manifest says ${manifest.row_count}`,
        );
      }
      const expected = manifest.columns.map((c) => c.name).join(',');
      if (parquet.columnNames.join(',') !== expected) {
        problem(
          'SCHEMA_MISMATCH',
          dataKey,
          `columns ${parquet.columnNames.join(', ')}; the manifest says ${expected.replaceAll(',', ', ')}`,
        );
      }
      if (options.deep) {
        let decoded = 0;
        for await (const batch of readArchivedRows(fetched.path, manifest, new Map()))
          decoded += batch.length;
        if (decoded !== manifest.row_count) {
          problem(
            'ROW_COUNT_MISMATCH',
            dataKey,
            `${decoded} rows decoded; the manifest says ${manifest.row_count}`,
          );
        }
      }
    } catch (error) {
      problem('PARQUET_UNREADABLE', dataKey, `not a readable Parquet file: ${coerceError(error).message}`);
    }
    return { problems, bytes: fetched.bytes, rows };
  } finally {
    await fetched.dispose();
  }
}
