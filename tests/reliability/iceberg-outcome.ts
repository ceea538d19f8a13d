import { keyOf, liveEntries, openTable } from '@chunk-archiver/iceberg';
import type { BlobStore } from '@chunk-archiver/storage';
import type postgres from 'postgres';

/**
 * What an Iceberg run must leave besides the archive itself: in each database's table, exactly
 * one live data file per dropped chunk (its ledger key, never two), and no file committed twice
 * (every snapshot adds a file no other snapshot added).
 */
export async function icebergProblems(
  store: BlobStore,
  databases: Array<{ name: string; sql: postgres.Sql }>,
  dropped: number,
): Promise<string[]> {
  const problems: string[] = [];
  let live = 0;
  for (const db of databases) {
    const opened = await openTable(store, `archive/${db.name}/public.events/`);
    if (!opened) {
      problems.push(`${db.name}: no Iceberg table`);
      continue;
    }
    const { table, current } = opened;
    const files = (await liveEntries(table, current.metadata)).map((e) =>
      keyOf(table, e.data_file.file_path),
    );
    live += files.length;
    if (new Set(files).size !== files.length) problems.push(`${db.name}: a data file is listed twice`);
    const added = current.metadata.snapshots.map((s) => s.summary['chunk-archiver.data-file']);
    if (new Set(added).size !== added.length) problems.push(`${db.name}: a data file was committed twice`);
    const keys = await db.sql<{ object_key: string }[]>`
      select object_key from archiver.chunks where state = 'dropped'`;
    for (const { object_key } of keys)
      if (!files.includes(object_key))
        problems.push(`${db.name}: dropped chunk ${object_key} is not in the table`);
  }
  if (live !== dropped)
    problems.push(`the Iceberg tables list ${live} live files for ${dropped} dropped chunks`);
  return problems;
}
