import { describe, expect, it } from 'vitest';
import { retentionConfigSchema, windowSettings } from '../src/config.js';
import { acceptable, endForRows, histogramRows, nextGoal, rescaledEnd } from '../src/windows/sizer.js';

const settings = windowSettings({
  schema: 'public',
  name: 't',
  kind: 'table',
  enabled: true,
  allow_retention_policy: false,
});

describe('window sizing', () => {
  it('aims at target_rows until a delete runs slower than target_seconds, then shrinks at the rate it ran', () => {
    expect(nextGoal(settings, [])).toBe(100_000);
    // 100,000 rows deleted in 1 s: fast enough, stay at the target.
    expect(nextGoal(settings, [{ rows: 100_000, expected: 100_000, removal_ms: 1_000 }])).toBe(100_000);
    // 100,000 rows in 8 s: 25,000 would take 2 s; half a step toward it.
    expect(nextGoal(settings, [{ rows: 100_000, expected: 100_000, removal_ms: 8_000 }])).toBe(62_500);
    // Never below min_rows, however slow.
    expect(nextGoal(settings, [{ rows: 1_000, expected: 1_000, removal_ms: 600_000 }])).toBe(1_000);
  });

  it('estimates rows from an equal-frequency histogram, following its density', () => {
    // Four buckets of 25 rows: dense [0, 10), sparse [10, 1000).
    const histogram = { rows: 100, bounds: [0, 5, 10, 500, 1000] };
    expect(histogramRows(histogram, 0, 10)).toBeCloseTo(50);
    expect(histogramRows(histogram, 0, 1000)).toBeCloseTo(100);
    expect(histogramRows(histogram, 10, 505)).toBeCloseTo(25.25);
    expect(endForRows((end) => histogramRows(histogram, 0, end), 0, 1000, 25)).toBe(5);
    expect(endForRows((end) => histogramRows(histogram, 10, end), 10, 1000, 25)).toBe(500);
    // Less than the goal before the cutoff: the window runs to the cutoff.
    expect(endForRows((end) => histogramRows(histogram, 0, end), 0, 1000, 500)).toBe(1000);
  });

  it('corrects a window from a count: scaled by the density it showed, within bounds', () => {
    expect(rescaledEnd(0, 100, 10_000, 1_000, 4_000)).toBe(25);
    expect(rescaledEnd(0, 100, 10_000, 1_000, 0)).toBe(800);
    expect(rescaledEnd(0, 100, 150, 1_000, 10)).toBe(150);
    expect(acceptable(1_000, 1_000, false)).toBe(true);
    expect(acceptable(400, 1_000, false)).toBe(false);
    expect(acceptable(400, 1_000, true)).toBe(true);
    expect(acceptable(2_001, 1_000, true)).toBe(false);
  });
});

describe('plain-table configuration', () => {
  const parse = (table: Record<string, unknown>) =>
    retentionConfigSchema.safeParse({ databases: { main: { tables: [{ name: 'audit', ...table }] } } });
  const messages = (table: Record<string, unknown>) => {
    const result = parse(table);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes a plain table with its window settings', () => {
    expect(messages({ kind: 'table', time_column: 'at', primary_key: ['id'], target_rows: 10_000 })).toEqual(
      [],
    );
  });

  it('names each bad key: a missing time column, window keys on other kinds, inconsistent bounds', () => {
    expect(messages({ kind: 'table' })).toEqual([
      'databases.main.tables.0.time_column: is required for kind: table (the column windows are cut on)',
    ]);
    expect(messages({ kind: 'partition', target_rows: 5 })).toEqual([
      'databases.main.tables.0.target_rows: applies only to kind: table (this is kind: partition)',
    ]);
    expect(messages({ kind: 'table', time_column: 'at', min_rows: 10, max_rows: 5, target_rows: 7 })).toEqual(
      [
        'databases.main.tables.0.min_rows: must not exceed max_rows (5)',
        'databases.main.tables.0.target_rows: must be between min_rows (10) and max_rows (5)',
      ],
    );
    expect(messages({ kind: 'table', time_column: 'at', vacuum_after_archival: 'sometimes' })[0]).toMatch(
      /^databases\.main\.tables\.0\.vacuum_after_archival: /,
    );
  });
});
