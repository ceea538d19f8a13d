import { createRequire } from 'node:module';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import { DEFAULT_ROW_GROUP_BYTES } from '../config.js';
import type { ColumnPlan } from './column-mapping.js';
import type { TupleView } from './copy-binary.js';

export type Codec = 'snappy' | 'gzip' | 'zstd' | 'uncompressed';

const CODECS = { snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', uncompressed: 'UNCOMPRESSED' } as const;

/**
 * Native Snappy (napi-rs, prebuilt for Linux/macOS/Windows on x64 and arm64) is several times
 * faster than the writer's JavaScript codec; where no prebuilt binary loads, the writer's own is used.
 */
function nativeSnappy(): ((input: Uint8Array) => Uint8Array) | undefined {
  try {
    const { compressSync } = createRequire(import.meta.url)('snappy') as {
      compressSync(input: Buffer): Buffer;
    };
    return (input) => {
      const out = compressSync(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    };
  } catch {
    return undefined;
  }
}

const snappy = nativeSnappy();
const compressors = {
  ...(snappy ? { SNAPPY: snappy } : {}),
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)),
};

/** Which Snappy implementation this process uses, for the benchmark report. */
export const SNAPPY_IMPLEMENTATION = snappy ? 'native (snappy)' : 'javascript (hyparquet-writer)';

export interface EncoderOptions {
  plans: ColumnPlan[];
  codec: Codec;
  /** Rows per row group: what bounds memory, whatever the chunk size. */
  rowGroupSize: number;
  /** Bytes of row data (as PostgreSQL sent them) that end a row group before rowGroupSize rows. */
  rowGroupBytes?: number | undefined;
  createdBy: string;
  /** Receives the file's bytes in order as row groups complete; its promise is the back-pressure. */
  sink: (bytes: Buffer) => Promise<void>;
}

/**
 * Streams rows into a Parquet file one row group at a time. Only the current row group's values
 * and its encoded bytes are in memory.
 */
export function createParquetEncoder(options: EncoderOptions) {
  const { plans, rowGroupSize } = options;
  const rowGroupBytes = options.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES;
  const writer = new ByteWriter(1024 * 1024) as ByteWriter & { index: number; flush?: () => Promise<void> };
  writer.flush = () => {
    const bytes = Buffer.from(new Uint8Array(writer.buffer, 0, writer.index));
    writer.index = 0;
    return options.sink(bytes);
  };
  writer.finish = () => writer.flush!();

  const schema: SchemaElement[] = [
    { name: 'root', num_children: plans.length },
    ...plans.map((p) => p.element),
  ];
  const parquet = new ParquetWriter({
    writer,
    schema,
    codec: CODECS[options.codec],
    compressors,
    createdBy: options.createdBy,
  });

  // Written as UTF8 so the writer takes the text as it is, then declared JSON in the footer.
  const jsonElements = plans.filter((p) => p.element.logical_type?.type === 'JSON').map((p) => p.element);

  let columns: unknown[][] = plans.map(() => []);
  let buffered = 0;
  let bufferedBytes = 0;
  let rows = 0;
  const decoders = plans.map((p) => p.decode);
  // Min/max of numbers, times and UUIDs let readers skip row groups; those of text, JSON and
  // bytes (truncated to 16 bytes) rarely do, and computing them costs ~8% of encoding time.
  const statistics = plans.map((p) => p.element.type !== 'BYTE_ARRAY');

  async function flushGroup(): Promise<void> {
    if (buffered === 0) return;
    const columnData = plans.map((plan, i) => ({
      name: plan.name,
      data: columns[i]!,
      statistics: statistics[i],
    }));
    await parquet.write({ columnData: columnData as never, rowGroupSize: buffered });
    columns = plans.map(() => []);
    buffered = 0;
    bufferedBytes = 0;
  }

  return {
    /**
     * Adds one binary COPY tuple; its fields from `first` on are the columns in plan order.
     * Synchronous; returns true when a row group is full and flush() is due.
     */
    add(tuple: TupleView, first: number): boolean {
      const { buf, offsets, lengths } = tuple;
      let bytes = 0;
      for (let i = 0; i < decoders.length; i++) {
        const length = lengths[first + i]!;
        if (length === -1) {
          columns[i]!.push(null);
          continue;
        }
        bytes += length;
        columns[i]!.push(decoders[i]!(buf, offsets[first + i]!, length));
      }
      buffered++;
      rows++;
      bufferedBytes += bytes;
      return buffered >= rowGroupSize || bufferedBytes >= rowGroupBytes;
    },
    /** Encodes the buffered rows as one row group and hands its bytes to the sink. */
    flush: flushGroup,
    /** Writes the last row group and the footer with `metadata` as key-value pairs. */
    async finish(metadata: Record<string, string>): Promise<{ rows: number }> {
      await flushGroup();
      parquet.kvMetadata = Object.entries(metadata).map(([key, value]) => ({ key, value }));
      for (const element of jsonElements) element.converted_type = 'JSON';
      await parquet.finish();
      return { rows };
    },
  };
}
