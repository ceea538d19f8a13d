import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlobStore } from '@chunk-archiver/storage';
import { duckdbLiteral, duckdbQuery } from '@chunk-archiver/testkit';

/**
 * Runs `select … from read_parquet([objects]) where …` in DuckDB, an independent reader, over
 * archived objects downloaded to a temporary folder.
 */
export async function queryArchived(
  store: BlobStore,
  keys: string[],
  select: string,
  where = '',
): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'archived-'));
  try {
    const paths: string[] = [];
    for (const [i, key] of keys.entries()) {
      const path = join(dir, `${i}.parquet`);
      await writeFile(path, await store.read(key));
      paths.push(duckdbLiteral(path));
    }
    return await duckdbQuery(
      `${select} from read_parquet([${paths.join(', ')}], hive_partitioning = false) ${where}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
