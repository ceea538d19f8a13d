import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Runs a query in DuckDB, an independent Parquet reader: what an archive holds is judged by
 * software that did not write it.
 */
export async function duckdbQuery(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Escapes a value as a DuckDB string literal. */
export function duckdbLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
