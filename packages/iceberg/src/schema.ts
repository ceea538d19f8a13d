import { IcebergError } from './errors.js';
import type { IcebergField, IcebergSchema, PrimitiveType, TableMetadata } from './types.js';

/** What the type mapping needs of a PostgreSQL column (packages/pg's ColumnInfo fits). */
export interface SourceColumn {
  name: string;
  baseType: string;
  category: string;
  typmod: number;
  notNull: boolean;
}

/** numeric(p,s) from its typmod; undefined for an unconstrained numeric. */
export function numericPrecision(typmod: number): { precision: number; scale: number } | undefined {
  if (typmod < 4) return undefined;
  return { precision: ((typmod - 4) >> 16) & 0xffff, scale: (typmod - 4) & 0xffff };
}

/**
 * PostgreSQL → Iceberg. Arrays are archived as JSON text (a string), as in plain Parquet; every
 * type without an Iceberg counterpart is PostgreSQL's own lossless text form.
 */
export function icebergType(column: SourceColumn): PrimitiveType {
  if (column.category === 'A') return 'string';
  switch (column.baseType) {
    case 'int2':
    case 'int4':
      return 'int';
    case 'int8':
      return 'long';
    case 'float4':
      return 'float';
    case 'float8':
      return 'double';
    case 'bool':
      return 'boolean';
    case 'numeric': {
      const p = numericPrecision(column.typmod);
      if (!p || p.precision > 38 || p.scale > p.precision) return 'string';
      return `decimal(${p.precision}, ${p.scale})`;
    }
    case 'uuid':
      return 'uuid';
    case 'timestamptz':
      return 'timestamptz';
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'time':
      return 'time';
    case 'bytea':
      return 'binary';
    default:
      return 'string';
  }
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  if (!schema)
    throw new IcebergError(
      'ICEBERG_METADATA_INVALID',
      `current-schema-id ${metadata['current-schema-id']} is not among the table's schemas`,
    );
  return schema;
}

/**
 * The fields a new data file carries: a column the table already has keeps its field id; a new
 * column takes the next free id, in column order. Every writer of one table's columns at one
 * schema version assigns the same ids, so racing workers agree; the commit checks it.
 */
export function fieldsFor(metadata: TableMetadata | undefined, columns: SourceColumn[]): IcebergField[] {
  const known = new Map((metadata ? currentSchema(metadata).fields : []).map((f) => [f.name, f]));
  let next = (metadata?.['last-column-id'] ?? 0) + 1;
  return columns.map((column) => {
    const type = icebergType(column);
    const existing = known.get(column.name);
    // A retyped column keeps its name but not its id: the commit refuses it either way.
    if (existing && existing.type === type) return { ...existing };
    return { id: next++, name: column.name, required: column.notNull, type };
  });
}

/**
 * The table schema once a data file with `file` fields is in it: the same schema, or one with the
 * new columns added (optional, so older files read as null). A dropped or retyped column is
 * refused until a person decides; a field id another column took meanwhile means the file was
 * written for an older schema and must be written again.
 */
export function evolveSchema(
  metadata: TableMetadata,
  file: IcebergField[],
): { schema: IcebergSchema; lastColumnId: number; added: IcebergField[] } {
  const schema = currentSchema(metadata);
  const byName = new Map(file.map((f) => [f.name, f]));
  for (const field of schema.fields) {
    const other = byName.get(field.name);
    if (!other)
      throw new IcebergError(
        'ICEBERG_SCHEMA_CONFLICT',
        `column ${field.name} (field ${field.id}, ${field.type}) is in the Iceberg table but not in the source any more: dropping a column is not done automatically`,
      );
    if (other.type !== field.type)
      throw new IcebergError(
        'ICEBERG_SCHEMA_CONFLICT',
        `column ${field.name} is ${field.type} in the Iceberg table and ${other.type} in the source: retyping a column is not done automatically`,
      );
    if (other.id !== field.id)
      throw new IcebergError(
        'ICEBERG_FIELD_ID_TAKEN',
        `column ${field.name} was written as field ${other.id}, the table has it as ${field.id}`,
        { retryable: true },
      );
  }
  const known = new Set(schema.fields.map((f) => f.name));
  const added = file.filter((f) => !known.has(f.name));
  const taken = new Set(schema.fields.map((f) => f.id));
  for (const field of added) {
    if (taken.has(field.id) || field.id <= metadata['last-column-id'])
      throw new IcebergError(
        'ICEBERG_FIELD_ID_TAKEN',
        `new column ${field.name} was written as field ${field.id}, which the table has already given out (last-column-id ${metadata['last-column-id']})`,
        { retryable: true },
      );
  }
  // A NOT NULL dropped at the source makes the column optional (Iceberg's allowed promotion).
  const relaxed = schema.fields.filter((f) => f.required && !byName.get(f.name)!.required);
  if (added.length === 0 && relaxed.length === 0)
    return { schema, lastColumnId: metadata['last-column-id'], added };
  const next: IcebergSchema = {
    type: 'struct',
    'schema-id': Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1,
    // Added columns are optional: the files before them have no values.
    fields: [
      ...schema.fields.map((f) => (relaxed.includes(f) ? { ...f, required: false } : f)),
      ...added.map((f) => ({ ...f, required: false })),
    ],
  };
  return {
    schema: next,
    lastColumnId: Math.max(metadata['last-column-id'], ...added.map((f) => f.id)),
    added,
  };
}
