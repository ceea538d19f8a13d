import type postgres from 'postgres';

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
