import type { BlobStore } from '@chunk-archiver/storage';
import { IcebergError } from './errors.js';
import type { TableMetadata } from './types.js';

/**
 * One Iceberg table in a store: `key` is the table's folder in the store (`…/<schema>.<table>/`),
 * `locationBase` the URI engines reach the store's root under (`s3://bucket`, `abfss://…`,
 * `file:///…`), so every path written into metadata is absolute, as the spec wants.
 */
export interface TableRef {
  store: BlobStore;
  key: string;
  locationBase: string;
}

export const METADATA_DIR = 'metadata/';
export const DATA_DIR = 'data/';

export const uriOf = (table: TableRef, key: string) => `${table.locationBase.replace(/\/+$/, '')}/${key}`;
export const tableLocation = (table: TableRef) => uriOf(table, table.key.replace(/\/+$/, ''));

/** The store key of a path written into this table's metadata; refuses a path outside the store. */
export function keyOf(table: TableRef, uri: string): string {
  const base = `${table.locationBase.replace(/\/+$/, '')}/`;
  if (!uri.startsWith(base))
    throw new IcebergError(
      'ICEBERG_METADATA_INVALID',
      `path ${uri} is not under this store's location ${base}`,
    );
  return uri.slice(base.length);
}

export const metadataKey = (table: TableRef, version: number) =>
  `${table.key}${METADATA_DIR}v${version}.metadata.json`;
const hintKey = (table: TableRef) => `${table.key}${METADATA_DIR}version-hint.text`;

export interface CurrentMetadata {
  version: number;
  metadata: TableMetadata;
}

async function readHint(table: TableRef): Promise<number> {
  if (!(await table.store.stat(hintKey(table)))) return 0;
  const text = (await table.store.read(hintKey(table))).toString('utf8').trim();
  const version = Number(text);
  return Number.isInteger(version) && version >= 0 ? version : 0;
}

function parseMetadata(key: string, body: Buffer): TableMetadata {
  let parsed: TableMetadata;
  try {
    parsed = JSON.parse(body.toString('utf8')) as TableMetadata;
  } catch (error) {
    throw new IcebergError('ICEBERG_METADATA_INVALID', `${key} is not JSON`, { cause: error });
  }
  if (parsed['format-version'] !== 2 || !Array.isArray(parsed.schemas))
    throw new IcebergError('ICEBERG_METADATA_INVALID', `${key} is not Iceberg v2 table metadata`);
  return parsed;
}

/** The newest metadata version found by listing: when the hint is missing or names a removed one. */
async function listedVersion(table: TableRef): Promise<number> {
  let newest = 0;
  for await (const item of table.store.list(`${table.key}${METADATA_DIR}`)) {
    const match = /\/v(\d+)\.metadata\.json$/.exec(item.key);
    if (match) newest = Math.max(newest, Number(match[1]));
  }
  return newest;
}

/**
 * The table's current metadata: the version the hint names, then forward while a newer one
 * exists (the hint is written after a commit, so it may lag one behind; it never leads).
 * Undefined when the table has no metadata yet.
 */
export async function readCurrent(table: TableRef): Promise<CurrentMetadata | undefined> {
  let version = await readHint(table);
  if (version === 0 || !(await table.store.stat(metadataKey(table, version))))
    version = await listedVersion(table);
  while (await table.store.stat(metadataKey(table, version + 1))) version++;
  if (version === 0) return undefined;
  const key = metadataKey(table, version);
  return { version, metadata: parseMetadata(key, await table.store.read(key)) };
}

/** Writes version `version` only if no writer has: false when another commit took it. */
export function createVersion(table: TableRef, version: number, metadata: TableMetadata): Promise<boolean> {
  return table.store.createExclusive(
    metadataKey(table, version),
    Buffer.from(JSON.stringify(metadata, null, 2)),
    {
      contentType: 'application/json',
    },
  );
}

/** Best effort: readers that open the table by path start from it; ours also look past it. */
export async function writeHint(table: TableRef, version: number): Promise<void> {
  const body = Buffer.from(String(version));
  await table.store.upload(
    hintKey(table),
    (async function* () {
      yield body;
    })(),
    { contentType: 'text/plain' },
  );
}

export async function writeSmall(table: TableRef, key: string, body: Buffer): Promise<void> {
  await table.store.upload(
    key,
    (async function* () {
      yield body;
    })(),
  );
}

/**
 * The table in a store's folder, its paths read against the location its own metadata records
 * (whatever base wrote it); undefined when the folder holds no Iceberg table.
 */
export async function openTable(
  store: BlobStore,
  key: string,
): Promise<{ table: TableRef; current: CurrentMetadata } | undefined> {
  const current = await readCurrent({ store, key, locationBase: '' });
  if (!current) return undefined;
  const location = current.metadata.location.replace(/\/+$/, '');
  const folder = key.replace(/\/+$/, '');
  if (!location.endsWith(`/${folder}`))
    throw new IcebergError(
      'ICEBERG_METADATA_INVALID',
      `table location ${location} does not end with its folder ${folder}`,
    );
  return { table: { store, key, locationBase: location.slice(0, -folder.length - 1) }, current };
}
