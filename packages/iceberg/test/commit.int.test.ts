import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChunkFile,
  commitChunkFile,
  committedProblem,
  expireSnapshots,
  liveEntries,
  PREVIOUS_VERSIONS_MAX,
  readCurrent,
  type TableRef,
} from '../src/index.js';
import { BACKENDS, type Backend, dayChunk, recordSafety } from './helpers.js';

const PARTITION = { partition: { transform: 'day' as const, truncateWidth: 1000 } };
let n = 0;

async function liveKeys(table: TableRef): Promise<string[]> {
  const current = await readCurrent(table);
  return (await liveEntries(table, current!.metadata)).map((e) =>
    e.data_file.file_path.slice(table.locationBase.length + 1),
  );
}

for (const [name, start] of Object.entries(BACKENDS)) {
  describe(`Iceberg commits on ${name}`, () => {
    let backend: Backend;
    let table: TableRef;
    beforeAll(async () => {
      backend = await start();
    });
    afterAll(() => backend.stop());
    afterEach(async ({ task }) => {
      delete process.env.ARCHIVER_FAILPOINTS;
      await recordSafety(name, task.name, Boolean(task.result?.errors?.length));
    });
    const newTable = (): TableRef => ({
      store: backend.store,
      key: `archive/db/public.t${++n}/`,
      locationBase: 'file:///srv',
    });

    it('the next metadata version is created only once: a second writer of it is refused', async () => {
      const key = `archive/exclusive-${++n}.json`;
      expect(await backend.store.createExclusive(key, Buffer.from('first'))).toBe(true);
      expect(await backend.store.createExclusive(key, Buffer.from('second'))).toBe(false);
      expect((await backend.store.read(key)).toString()).toBe('first');
    });

    it('appends, then replaces a re-archived chunk with an overwrite snapshot, and commits nothing twice', async () => {
      table = newTable();
      for (let d = 1; d <= 3; d++)
        expect((await commitChunkFile(table, dayChunk(table.key, d), PARTITION)).outcome).toBe('committed');
      const again = await commitChunkFile(table, dayChunk(table.key, 2), PARTITION);
      expect(again.outcome).toBe('already-committed');
      const second = dayChunk(table.key, 2, 'b');
      const overwrite = await commitChunkFile(table, second, PARTITION);
      expect(overwrite.replaced).toEqual([`file:///srv/${dayChunk(table.key, 2).key}`]);
      const current = (await readCurrent(table))!;
      expect(current.version).toBe(4);
      expect(current.metadata.snapshots.map((s) => s.summary.operation)).toEqual([
        'append',
        'append',
        'append',
        'overwrite',
      ]);
      expect(current.metadata.snapshots.at(-1)!.summary).toMatchObject({
        'deleted-data-files': '1',
        'total-data-files': '3',
        'chunk-archiver.data-file': second.key,
        'chunk-archiver.row-count': String(second.rows),
      });
      expect((await liveKeys(table)).sort()).toEqual(
        [1, 3]
          .map((d) => dayChunk(table.key, d).key)
          .concat(second.key)
          .sort(),
      );
      expect(await committedProblem(table, second)).toBeUndefined();
      expect(await committedProblem(table, dayChunk(table.key, 2))).toMatch(/does not list/);
      expect(await committedProblem(table, { ...second, rows: second.rows + 1 })).toMatch(/expected/);
    });

    if (name !== 's3') {
      // s3rver's If-None-Match check is not atomic (real S3's is), so the race runs on the other two.
      it('two leaders racing a commit: one retries on top of the other, no snapshot lost, no file listed twice', async () => {
        table = newTable();
        await commitChunkFile(table, dayChunk(table.key, 1), PARTITION);
        // Both read v1 and write their manifests before either creates v2.
        process.env.ARCHIVER_FAILPOINTS = 'iceberg.mid-commit=sleep:400';
        const other: TableRef = { ...table };
        const [a, b] = await Promise.all([
          commitChunkFile(table, dayChunk(table.key, 2), PARTITION),
          commitChunkFile(other, dayChunk(table.key, 3), PARTITION),
        ]);
        expect([a.attempts, b.attempts].sort()).toEqual([1, 2]);
        const current = (await readCurrent(table))!;
        expect(current.version).toBe(3);
        const keys = await liveKeys(table);
        expect(keys.sort()).toEqual([1, 2, 3].map((d) => dayChunk(table.key, d).key).sort());
        const snapshots = current.metadata.snapshots;
        expect(snapshots[2]!['parent-snapshot-id']).toBe(snapshots[1]!['snapshot-id']);
      });

      it('without an exclusive create the same race loses a snapshot (the guard is what the race test sees)', async () => {
        table = newTable();
        const careless: TableRef = {
          ...table,
          store: {
            ...backend.store,
            createExclusive: async (key, body) => {
              await backend.store.upload(
                key,
                (async function* () {
                  yield body;
                })(),
              );
              return true;
            },
          },
        };
        await commitChunkFile(careless, dayChunk(table.key, 1), PARTITION);
        process.env.ARCHIVER_FAILPOINTS = 'iceberg.mid-commit=sleep:400';
        await Promise.all([
          commitChunkFile(careless, dayChunk(table.key, 2), PARTITION),
          commitChunkFile({ ...careless }, dayChunk(table.key, 3), PARTITION),
        ]);
        expect((await liveKeys(table)).length).toBe(2);
      });
    }

    it('a dropped or retyped column is refused, an added one is a new schema with a new field id', async () => {
      table = newTable();
      const base = dayChunk(table.key, 1);
      await commitChunkFile(table, base, PARTITION);
      const added: ChunkFile = {
        ...dayChunk(table.key, 2),
        fields: [...base.fields, { id: 3, name: 'note', required: false, type: 'string' }],
      };
      await commitChunkFile(table, added, PARTITION);
      const current = (await readCurrent(table))!.metadata;
      expect(current['current-schema-id']).toBe(1);
      expect(current['last-column-id']).toBe(3);
      const dropped: ChunkFile = { ...dayChunk(table.key, 3), fields: base.fields };
      await expect(commitChunkFile(table, dropped, PARTITION)).rejects.toMatchObject({
        code: 'ICEBERG_SCHEMA_CONFLICT',
        message: /note.*not in the source/,
      });
      const retyped: ChunkFile = {
        ...dayChunk(table.key, 4),
        fields: [base.fields[0]!, { ...base.fields[1]!, type: 'timestamp' }, added.fields[2]!],
      };
      await expect(commitChunkFile(table, retyped, PARTITION)).rejects.toMatchObject({
        code: 'ICEBERG_SCHEMA_CONFLICT',
        message: /ts is timestamptz/,
      });
      const stale: ChunkFile = {
        ...dayChunk(table.key, 5),
        fields: [...base.fields, { id: 3, name: 'other', required: false, type: 'string' }],
      };
      await expect(commitChunkFile(table, stale, PARTITION)).rejects.toMatchObject({
        code: 'ICEBERG_SCHEMA_CONFLICT',
      });
      expect((await readCurrent(table))!.version).toBe(2);
      // A NOT NULL dropped at the source: the column becomes optional, in a schema of its own.
      const relaxed: ChunkFile = {
        ...dayChunk(table.key, 6),
        fields: [{ ...base.fields[0]!, required: false }, base.fields[1]!, added.fields[2]!],
      };
      await commitChunkFile(table, relaxed, PARTITION);
      const after = (await readCurrent(table))!.metadata;
      expect(after['current-schema-id']).toBe(2);
      expect(after.schemas.at(-1)!.fields.map((f) => f.required)).toEqual([false, true, false]);
    });

    it('expire-snapshots keeps the newest, removes what only the expired ones used, never a live file', async () => {
      table = newTable();
      const firsts = [1, 2].map((d) => dayChunk(table.key, d));
      for (const f of firsts) {
        await backend.store.upload(
          f.key,
          (async function* () {
            yield Buffer.from('x');
          })(),
        );
        await commitChunkFile(table, f, PARTITION);
      }
      const replacement = dayChunk(table.key, 1, 'b');
      await backend.store.upload(
        replacement.key,
        (async function* () {
          yield Buffer.from('y');
        })(),
      );
      await commitChunkFile(table, replacement, PARTITION);
      const result = await expireSnapshots(table, 1);
      expect(result.expiredSnapshots).toBe(2);
      expect(result.removedDataFiles).toEqual([firsts[0]!.key]);
      expect(await backend.store.stat(firsts[0]!.key)).toBeUndefined();
      expect(await backend.store.stat(firsts[1]!.key)).toBeDefined();
      expect(await backend.store.stat(replacement.key)).toBeDefined();
      const current = (await readCurrent(table))!;
      expect(current.metadata.snapshots).toHaveLength(1);
      expect((await liveKeys(table)).sort()).toEqual([firsts[1]!.key, replacement.key].sort());
      await expect(expireSnapshots(table, 0)).rejects.toThrow(/keep/);
    });

    it('keeps 100 metadata versions behind the current one, as write.metadata.previous-versions-max says', async () => {
      table = newTable();
      for (let d = 1; d <= PREVIOUS_VERSIONS_MAX + 5; d++)
        await commitChunkFile(table, dayChunk(table.key, d), PARTITION);
      const versions: number[] = [];
      for await (const item of backend.store.list(`${table.key}metadata/`)) {
        const v = /\/v(\d+)\.metadata\.json$/.exec(item.key);
        if (v) versions.push(Number(v[1]));
      }
      const current = (await readCurrent(table))!;
      expect(current.version).toBe(PREVIOUS_VERSIONS_MAX + 5);
      expect(Math.min(...versions)).toBe(5);
      expect(current.metadata['metadata-log']).toHaveLength(PREVIOUS_VERSIONS_MAX);
      expect(current.metadata['metadata-log'][0]!['metadata-file']).toBe(
        `file:///srv/${table.key}metadata/v5.metadata.json`,
      );
    }, 60_000);
  });
}
