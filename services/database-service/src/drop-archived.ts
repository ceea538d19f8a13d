import { failpoint } from '@chunk-archiver/common';
import type { BlobStore } from '@chunk-archiver/storage';
import type { RetentionConfig } from './config.js';
import { type DropOutcome, dropOptions, dropVerifiedChunk } from './drop-verified.js';
import { ensureCommitted } from './iceberg/commit-chunk.js';
import type { ManagedDatabase } from './managed-database.js';
import { chunkById } from './sql/ledger.js';

/**
 * An archived chunk's way out: committed to its Iceberg table first when it has one (and read
 * back there), then the verified drop. Whoever calls it (a confirmation, a scan after a restart)
 * starts from the ledger row alone.
 */
export async function commitAndDrop(
  deps: { store: BlobStore; config: RetentionConfig },
  db: ManagedDatabase,
  id: string,
  options: { failpoint?: boolean } = {},
): Promise<DropOutcome> {
  const row = await chunkById(db.sql, id);
  if (row?.state !== 'archived') return 'not-archived';
  if ((await ensureCommitted(deps, db, row)) === 'refused') return 'not-archived';
  if (options.failpoint)
    await failpoint('drop.before', { database: db.name, chunk: `${row.chunk_schema}.${row.chunk_name}` });
  return dropVerifiedChunk(db, id, dropOptions(deps.config, db));
}
