import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadArchivalConfig } from '../src/config.js';

describe('archival-service configuration', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function file(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    dirs.push(dir);
    const path = join(dir, 'config.yaml');
    await writeFile(path, text);
    return path;
  }

  it('has defaults that work with no file at all', () => {
    const config = loadArchivalConfig({});
    expect(config.service.port).toBe(3001);
    expect(config.storage.backend).toBe('azure');
    expect(config.parquet).toEqual({
      codec: 'snappy',
      row_group_size: 10_000,
      row_group_bytes: 8 * 1024 * 1024,
    });
    expect(config.max_concurrent_archival_tasks).toBe(2);
  });

  it('reads databases from YAML and applies environment overrides', async () => {
    const path = await file(`
databases:
  metrics:
    host: db.internal
    port: 6432
    password_env: METRICS_PASSWORD
    tables: [public.conditions]
parquet:
  codec: zstd
`);
    const config = loadArchivalConfig({
      ARCHIVER_CONFIG: path,
      MAX_CONCURRENT_ARCHIVAL_TASKS: '4',
      STORAGE_BACKEND: 's3',
    });
    expect(config.databases.metrics?.port).toBe(6432);
    expect(config.databases.metrics?.tables).toEqual(['public.conditions']);
    expect(config.parquet.codec).toBe('zstd');
    expect(config.max_concurrent_archival_tasks).toBe(4);
    expect(config.storage.backend).toBe('s3');
  });

  it('names every offending key', async () => {
    const path = await file(`
databases:
  metrics:
    port: seventy
    tables: [conditions]
parquet:
  codec: lz4
unknown_thing: 1
`);
    let message = '';
    try {
      loadArchivalConfig({ ARCHIVER_CONFIG: path, MAX_CONCURRENT_ARCHIVAL_TASKS: '0' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('databases.metrics.port');
    expect(message).toContain('databases.metrics.tables.0: must be schema.table');
    expect(message).toContain('parquet.codec');
    expect(message).toContain('max_concurrent_archival_tasks');
    expect(message).toContain('unknown key(s): unknown_thing');
  });

  it('says which file could not be read or parsed', async () => {
    expect(() => loadArchivalConfig({ ARCHIVER_CONFIG: '/nonexistent/config.yaml' })).toThrow(
      /cannot read config file \/nonexistent/,
    );
    const path = await file('databases: [unclosed');
    expect(() => loadArchivalConfig({ ARCHIVER_CONFIG: path })).toThrow(/not valid YAML/);
  });
});
