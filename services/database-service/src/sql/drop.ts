import type postgres from 'postgres';

/**
 * Takes a SHARE lock on the chunk: reads go on, every INSERT/UPDATE/DELETE waits until the drop
 * transaction ends. Gives up after `lockTimeoutMs` instead of queueing behind long writers.
 */
export async function lockChunkAgainstWrites(
  tx: postgres.TransactionSql,
  schema: string,
  name: string,
  lockTimeoutMs: number,
): Promise<void> {
  await tx`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`;
  await tx`lock table only ${tx(schema)}.${tx(name)} in share mode`;
}

export async function chunkTableExists(
  tx: postgres.TransactionSql | postgres.Sql,
  schema: string,
  name: string,
): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`
    select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = ${schema} and c.relname = ${name}) as ok`;
  return row!.ok;
}

/** Native partition: detach it from its parent, then drop exactly that table. */
export async function detachAndDropPartition(
  tx: postgres.TransactionSql,
  parent: { schema: string; name: string },
  chunk: { schema: string; name: string },
): Promise<void> {
  await tx`alter table ${tx(parent.schema)}.${tx(parent.name)} detach partition ${tx(chunk.schema)}.${tx(chunk.name)}`;
  await tx`drop table ${tx(chunk.schema)}.${tx(chunk.name)}`;
}

/** TimescaleDB chunk: dropping the chunk table drops exactly that chunk; TimescaleDB updates its catalog. */
export async function dropHypertableChunk(
  tx: postgres.TransactionSql,
  chunk: { schema: string; name: string },
): Promise<void> {
  await tx`drop table ${tx(chunk.schema)}.${tx(chunk.name)}`;
}

export async function analyzeTable(sql: postgres.Sql, schema: string, name: string): Promise<void> {
  await sql`analyze ${sql(schema)}.${sql(name)}`;
}
