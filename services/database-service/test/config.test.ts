import { describe, expect, it } from 'vitest';
import { effectiveTable, loadRetentionConfig, retentionConfigSchema } from '../src/config.js';
import { defaultLocationBase, partitionSettings, tableFormat } from '../src/iceberg/format.js';

describe('database-service configuration', () => {
  it('defaults: 730 days, databases scanned side by side (at most 3 at once), no dry run, bounded waits, safe HTTP', () => {
    const config = loadRetentionConfig({}, undefined);
    expect(config.defaults.retention_days).toBe(730);
    // Each database has its own loop; side by side, a hung one never holds up the others.
    expect(config.parallel_databases).toBe(true);
    expect(config.defaults).toMatchObject({
      scan_timeout_s: 900,
      leader_timeout_ms: 5_000,
      status_timeout_ms: 1_500,
    });
    expect(config.service).toMatchObject({ allow_unauthenticated: false, shutdown_grace_ms: 10_000 });
    expect(config.max_parallel_databases).toBe(3);
    expect(config.dry_run).toBe(false);
  });

  it('takes environment overrides, including booleans', () => {
    const config = loadRetentionConfig(
      {
        DRY_RUN: 'true',
        PARALLEL_DATABASES: '0',
        RETENTION_DAYS: '90',
        MAX_PARALLEL_DATABASES: '5',
        ALLOW_UNAUTHENTICATED: 'yes',
      },
      undefined,
    );
    expect(config.dry_run).toBe(true);
    expect(config.parallel_databases).toBe(false);
    expect(config.service.allow_unauthenticated).toBe(true);
    expect(config.defaults.retention_days).toBe(90);
    expect(config.max_parallel_databases).toBe(5);
  });

  it('resolves retention per table, then per database, then the default', () => {
    const config = retentionConfigSchema.parse({
      defaults: { retention_days: 730 },
      databases: {
        a: {
          retention_days: 365,
          tables: [
            { name: 't1', kind: 'partition' },
            { name: 't2', kind: 'timescaledb', retention_days: 30 },
          ],
        },
      },
    });
    const db = config.databases.a!;
    expect(effectiveTable(config, db, db.tables[0]!).retentionDays).toBe(365);
    expect(effectiveTable(config, db, db.tables[1]!).retentionDays).toBe(30);
  });

  it('names each bad key', () => {
    let message = '';
    try {
      loadRetentionConfig({ MAX_PARALLEL_DATABASES: '11' }, undefined);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('max_parallel_databases');
    const bad = retentionConfigSchema.safeParse({
      databases: { a: { tables: [{ name: 't', kind: 'view' }] } },
    });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.error.issues[0]!.path.join('.')).toBe('databases.a.tables.0.kind');
  });

  it('archive format: parquet by default, iceberg per database or table, each bad key named', () => {
    const config = retentionConfigSchema.parse({
      databases: {
        a: {
          format: 'iceberg',
          tables: [
            { name: 't1', kind: 'partition' },
            { name: 't2', kind: 'partition', format: 'parquet' },
          ],
        },
        b: { tables: [{ name: 't3', kind: 'timescaledb', format: 'iceberg', iceberg_partition: 'day' }] },
      },
    });
    expect(config.iceberg).toEqual({
      partition: 'month',
      truncate_width: 1_000_000,
      commit_attempts: 20,
      keep_snapshots: 100,
    });
    const a = config.databases.a!;
    const b = config.databases.b!;
    const row = (t: string) => ({ table_schema: 'public', table_name: t });
    expect([tableFormat(a, row('t1')), tableFormat(a, row('t2')), tableFormat(b, row('t3'))]).toEqual([
      'iceberg',
      'parquet',
      'iceberg',
    ]);
    expect(partitionSettings(config, b, row('t3'))).toEqual({ transform: 'day', truncateWidth: 1_000_000 });
    for (const [input, path] of [
      [{ databases: { a: { format: 'delta' } } }, 'databases.a.format'],
      [
        { databases: { a: { tables: [{ name: 't', kind: 'partition', iceberg_partition: 'week' }] } } },
        'databases.a.tables.0.iceberg_partition',
      ],
      [{ iceberg: { partition: 'hour' } }, 'iceberg.partition'],
      [{ iceberg: { keep_snapshots: -1 } }, 'iceberg.keep_snapshots'],
      [{ iceberg: { location: 's3://x' } }, 'iceberg'],
    ] as const) {
      const bad = retentionConfigSchema.safeParse(input);
      expect(bad.success, path).toBe(false);
      if (!bad.success) expect(bad.error.issues[0]!.path.join('.')).toBe(path);
    }
  });

  it('Iceberg locations from the storage settings, unless iceberg.location_base says otherwise', () => {
    const storage = (backend: string, extra = {}) =>
      retentionConfigSchema.parse({ storage: { backend, ...extra } }).storage;
    expect(defaultLocationBase(storage('s3', { s3: { bucket: 'cold' } }))).toBe('s3://cold');
    expect(
      defaultLocationBase(storage('azure'), {
        AZURE_STORAGE_CONNECTION_STRING: 'AccountName=acme;AccountKey=k',
      }),
    ).toBe('abfss://archive@acme.dfs.core.windows.net');
    expect(
      defaultLocationBase(storage('local', { local: { path: '/srv/data', container: 'archive' } })),
    ).toBe('file:///srv/data/archive');
  });
});
