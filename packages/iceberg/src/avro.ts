import { Readable } from 'node:stream';
import avro from 'avsc';
import { partitionValueType } from './partition.js';
import type { IcebergSchema, ManifestEntry, ManifestFile, PartitionSpec } from './types.js';

/** Longs as BigInt: sequence numbers, snapshot ids and sizes do not fit a double's 53 bits. */
const longType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});
const registry = (): Record<string, avro.Type> => ({ long: longType });

const opt = (type: unknown) => ['null', type];
const intKeyMap = (record: string, keyId: number, valueId: number, value: unknown) => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name: record,
    fields: [
      { name: 'key', type: 'int', 'field-id': keyId },
      { name: 'value', type: value, 'field-id': valueId },
    ],
  },
});

/** The manifest_entry schema of the spec (v2) for one partition spec. */
function manifestEntrySchema(spec: PartitionSpec, schema: IcebergSchema) {
  const partitionFields = spec.fields.map((f) => {
    const source = schema.fields.find((s) => s.id === f['source-id'])!;
    const t = partitionValueType(f.transform, source);
    return {
      name: f.name,
      type: opt(t === 'date' ? { type: 'int', logicalType: 'date' } : t),
      default: null,
      'field-id': f['field-id'],
    };
  });
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      { name: 'snapshot_id', type: opt('long'), default: null, 'field-id': 1 },
      { name: 'sequence_number', type: opt('long'), default: null, 'field-id': 3 },
      { name: 'file_sequence_number', type: opt('long'), default: null, 'field-id': 4 },
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            {
              name: 'partition',
              'field-id': 102,
              type: { type: 'record', name: 'r102', fields: partitionFields },
            },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            {
              name: 'lower_bounds',
              type: opt(intKeyMap('k126_v127', 126, 127, 'bytes')),
              default: null,
              'field-id': 125,
            },
            {
              name: 'upper_bounds',
              type: opt(intKeyMap('k129_v130', 129, 130, 'bytes')),
              default: null,
              'field-id': 128,
            },
          ],
        },
      },
    ],
  };
}

const fieldSummary = {
  type: 'record',
  name: 'r508',
  fields: [
    { name: 'contains_null', type: 'boolean', 'field-id': 509 },
    { name: 'contains_nan', type: opt('boolean'), default: null, 'field-id': 518 },
    { name: 'lower_bound', type: opt('bytes'), default: null, 'field-id': 510 },
    { name: 'upper_bound', type: opt('bytes'), default: null, 'field-id': 511 },
  ],
};

/** The manifest_file schema of the spec (v2): one record per manifest in a manifest list. */
const MANIFEST_FILE_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    {
      name: 'partitions',
      type: opt({ type: 'array', items: fieldSummary, 'element-id': 508 }),
      default: null,
      'field-id': 507,
    },
  ],
};

/** An Avro object container file in memory: Iceberg's manifests are small. */
async function encodeFile(
  schema: object,
  records: unknown[],
  metadata: Record<string, string>,
): Promise<Buffer> {
  const type = avro.Type.forSchema(schema as avro.Schema, { registry: registry() });
  const encoder = new avro.streams.BlockEncoder(type, {
    // @types of avsc 5 omit `metadata`, which BlockEncoder takes (and writes into the header).
    codec: 'null',
    metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)])),
  } as object);
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    encoder.on('data', (b: Buffer) => parts.push(b));
    encoder.on('end', resolve);
    encoder.on('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await done;
  return Buffer.concat(parts);
}

/** Reads every record of an Avro object container file, with longs as BigInt. */
export async function decodeFile<T>(buffer: Buffer): Promise<T[]> {
  const decoder = new avro.streams.BlockDecoder({
    parseHook: (schema) => avro.Type.forSchema(schema, { registry: registry() }),
  });
  const records: T[] = [];
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('data', (r: T) => records.push(r));
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  Readable.from([buffer]).pipe(decoder);
  await done;
  return records;
}

export function encodeManifest(
  entries: ManifestEntry[],
  spec: PartitionSpec,
  schema: IcebergSchema,
): Promise<Buffer> {
  return encodeFile(manifestEntrySchema(spec, schema), entries, {
    schema: JSON.stringify(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(spec['spec-id']),
    'format-version': '2',
    content: 'data',
  });
}

export function encodeManifestList(
  manifests: ManifestFile[],
  snapshot: { id: bigint; parentId: bigint | undefined; sequenceNumber: bigint },
): Promise<Buffer> {
  return encodeFile(MANIFEST_FILE_SCHEMA, manifests, {
    'snapshot-id': String(snapshot.id),
    'parent-snapshot-id': snapshot.parentId === undefined ? 'null' : String(snapshot.parentId),
    'sequence-number': String(snapshot.sequenceNumber),
    'format-version': '2',
  });
}
