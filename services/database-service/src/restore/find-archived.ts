import { coerceError } from '@chunk-archiver/common';
import { keyOf, liveEntries, openTable } from '@chunk-archiver/iceberg';
import {
  type BlobStore,
  MANIFEST_SUFFIX,
  type Manifest,
  readManifest,
  tableArchivePrefix,
} from '@chunk-archiver/storage';
import { RestoreError } from '../errors.js';
import { type Bound, boundOf, type Dimension, overlaps, parseBound } from './range.js';

export interface ArchivedChunk {
  manifestKey: string;
  manifest: Manifest;
}

export interface ArchiveSelection {
  dimension: Dimension;
  from: Bound;
  to: Bound;
  /** Oldest range first. */
  chunks: ArchivedChunk[];
}

type Slice = { column: string; start: string; end: string };

function* pairs<T>(items: T[]): Generator<[T, T]> {
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) yield [items[i]!, items[j]!];
}

/** Two chunks' secondary slices overlap when, on every shared dimension, their ranges do. */
function slicesOverlap(a: Slice[], b: Slice[]): boolean {
  return a.every((sa) => {
    const sb = b.find((s) => s.column === sa.column);
    return !sb || overlaps(BigInt(sa.start), BigInt(sa.end), BigInt(sb.start), BigInt(sb.end));
  });
}

function sortByStart(chunks: ArchivedChunk[], dimension: Dimension): ArchivedChunk[] {
  return chunks.sort((a, b) =>
    boundOf(a.manifest.range.start, dimension) < boundOf(b.manifest.range.start, dimension) ? -1 : 1,
  );
}

/** Within chunks sorted by start, two whose ranges overlap would restore the same rows twice. */
function refuseOverlaps(chunks: ArchivedChunk[], dimension: Dimension): void {
  for (let i = 1; i < chunks.length; i++) {
    const previous = chunks[i - 1]!.manifest;
    const current = chunks[i]!.manifest;
    if (boundOf(current.range.start, dimension) < boundOf(previous.range.end, dimension)) {
      throw new RestoreError(
        'ARCHIVE_OVERLAP',
        `archived objects ${previous.object_key} and ${current.object_key} hold overlapping ranges; restoring both would duplicate rows`,
      );
    }
  }
}

/**
 * The archived chunks of one table whose range overlaps [from, to), found through their
 * manifests (the archive describes itself; the ledger is not needed). Refuses when a manifest
 * cannot be read or two objects hold overlapping ranges: restoring either way could lose or
 * duplicate rows without anyone noticing.
 */
/** A range that no archived rows overlap: say what the archive does cover. */
function nothingInRange(
  input: { schema: string; table: string; database: string; from: string; to: string },
  manifests: Array<{ manifest: Manifest }>,
  dimension: Manifest['range']['dimension_type'],
): RestoreError {
  const held = manifests.filter(({ manifest: m }) => m.row_count > 0).map(({ manifest: m }) => m.range);
  const starts = held
    .map((r) => r.start)
    .sort((a, b) => (boundOf(a, dimension) < boundOf(b, dimension) ? -1 : 1));
  const ends = held
    .map((r) => r.end)
    .sort((a, b) => (boundOf(a, dimension) < boundOf(b, dimension) ? -1 : 1));
  const span = held.length
    ? `; its archive covers [${starts[0]}, ${ends.at(-1)})`
    : '; its archived chunks are all empty';
  return new RestoreError(
    'NOTHING_ARCHIVED',
    `no archived rows of ${input.schema}.${input.table} in database ${input.database} overlap [${input.from}, ${input.to})${span}`,
  );
}

/** The data files an Iceberg table's current snapshot lists; undefined for a plain Parquet archive. */
async function icebergLiveKeys(store: BlobStore, prefix: string): Promise<Set<string> | undefined> {
  const opened = await openTable(store, prefix);
  if (!opened) return undefined;
  const { table, current } = opened;
  return new Set(
    (await liveEntries(table, current.metadata)).map((e) => keyOf(table, e.data_file.file_path)),
  );
}

export async function findArchivedChunks(
  store: BlobStore,
  input: { prefix: string; database: string; schema: string; table: string; from: string; to: string },
): Promise<ArchiveSelection> {
  const prefix = tableArchivePrefix(input.prefix, input.database, input.schema, input.table);
  const live = await icebergLiveKeys(store, prefix);
  const manifests: ArchivedChunk[] = [];
  const unreadable: string[] = [];
  for await (const item of store.list(prefix)) {
    if (!item.key.endsWith(MANIFEST_SUFFIX)) continue;
    // An Iceberg table is read through its current snapshot: a replaced attempt is not restored.
    if (live && !live.has(item.key.slice(0, -MANIFEST_SUFFIX.length))) continue;
    try {
      manifests.push({ manifestKey: item.key, manifest: await readManifest(store, item.key) });
    } catch (error) {
      unreadable.push(`${item.key} (${coerceError(error).message.split('\n')[0]})`);
    }
  }
  if (unreadable.length) {
    throw new RestoreError(
      'MANIFEST_INVALID',
      `cannot tell which objects cover the range: unreadable manifests ${unreadable.join(', ')}; run verify`,
    );
  }
  if (manifests.length === 0) {
    throw new RestoreError(
      'NOTHING_ARCHIVED',
      `no archived chunks of ${input.schema}.${input.table} in database ${input.database} (looked under ${store.backend}:${store.container}/${prefix})`,
    );
  }
  const dimension = manifests[0]!.manifest.range.dimension_type;
  const from = parseBound('from', input.from, dimension);
  const to = parseBound('to', input.to, dimension);
  if (!(from < to)) throw new RestoreError('BAD_BOUND', 'to: must be after from', { field: 'to' });
  // An empty chunk has nothing to restore, and its object may overlap one holding the rows.
  const chunks = manifests
    .filter(({ manifest: m }) => m.row_count > 0)
    .filter(({ manifest: m }) =>
      overlaps(
        boundOf(m.range.start, m.range.dimension_type),
        boundOf(m.range.end, m.range.dimension_type),
        from,
        to,
      ),
    )
    .sort((a, b) =>
      boundOf(a.manifest.range.start, dimension) < boundOf(b.manifest.range.start, dimension) ? -1 : 1,
    );
  if (chunks.length === 0) throw nothingInRange(input, manifests, dimension);
  // Chunks of different space partitions share a time range: only objects whose every dimension
  // overlaps could hold the same rows. So do two generations of one partition (dropped and
  // re-created under its name): each held rows of its own, told apart by the table's OID.
  const groups = new Map<string, ArchivedChunk[]>();
  for (const chunk of chunks) {
    const key = JSON.stringify({
      oid: chunk.manifest.source.chunk_oid ?? '',
      slices: chunk.manifest.source.dimension_slices ?? [],
    });
    groups.set(key, [...(groups.get(key) ?? []), chunk]);
  }
  for (const group of groups.values()) refuseOverlaps(group, dimension);
  for (const [a, b] of pairs([...groups.keys()])) {
    const ga = JSON.parse(a) as { oid: string; slices: Slice[] };
    const gb = JSON.parse(b) as { oid: string; slices: Slice[] };
    if (ga.oid !== gb.oid || !slicesOverlap(ga.slices, gb.slices)) continue;
    refuseOverlaps(sortByStart([...groups.get(a)!, ...groups.get(b)!], dimension), dimension);
  }
  return { dimension, from, to, chunks };
}
