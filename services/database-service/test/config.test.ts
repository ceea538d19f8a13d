import { describe, expect, it } from 'vitest';
import { effectiveTable, loadRetentionConfig, retentionConfigSchema } from '../src/config.js';

describe('database-service configuration', () => {
  it('defaults: 730 days, sequential databases, at most 3 in parallel, no dry run', () => {
    const config = loadRetentionConfig({}, undefined);
    expect(config.defaults.retention_days).toBe(730);
    expect(config.parallel_databases).toBe(false);
    expect(config.max_parallel_databases).toBe(3);
    expect(config.dry_run).toBe(false);
  });

  it('takes environment overrides, including booleans', () => {
    const config = loadRetentionConfig(
      { DRY_RUN: 'true', PARALLEL_DATABASES: '1', RETENTION_DAYS: '90', MAX_PARALLEL_DATABASES: '5' },
      undefined,
    );
    expect(config.dry_run).toBe(true);
    expect(config.parallel_databases).toBe(true);
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
});
