import type { ChunkIdentity } from '@chunk-archiver/events';
import { pinSession, type RowRange } from '@chunk-archiver/pg';
import type postgres from 'postgres';
import type { WindowSettings } from '../config.js';
import { ledgerExists } from '../sql/ledger.js';
import {
  analyzeOnly,
  boundedCount,
  firstTimeFrom,
  recentRemovals,
  timeStatistics,
  windowFrontier,
} from '../sql/windows.js';
import { boundText, boundValue, type WindowPlan } from './inspect.js';
import { acceptable, endForRows, type Histogram, histogramRows, nextGoal, rescaledEnd } from './sizer.js';

type Db = postgres.Sql | postgres.TransactionSql;
type Tx = postgres.TransactionSql;

export type CutWindow = ChunkIdentity & { expected_rows: number };

/** How many counts one window may take to find its size (each reads at most 2× its goal). */
const MAX_PROBES = 8;

/** Runs `work` in a transaction of its own, or inside the caller's (a dry run's). */
function inTransaction<T>(sql: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  if ('begin' in sql && typeof sql.begin === 'function')
    return (sql as postgres.Sql).begin(work) as Promise<T>;
  return work(sql as Tx);
}

/**
 * Cuts the next windows of a plain table, contiguous from the end of the last one the ledger
 * knows (from the first expired row before that), up to `limit` open windows. Each is sized
 * toward the goal from the planner's histogram and, where an index leads with the time column,
 * checked with bounded counts. Never counts the whole table.
 */
export async function cutWindows(
  sql: Db,
  database: string,
  plan: WindowPlan,
  settings: WindowSettings,
  limit: number,
): Promise<CutWindow[]> {
  const known = await ledgerExists(sql);
  const frontier = known ? await windowFrontier(sql, plan.table, plan.oid) : { lastEnd: null, open: 0 };
  const slots = limit - frontier.open;
  if (slots <= 0) return [];
  const goal = nextGoal(settings, known ? await recentRemovals(sql, plan.table, 5) : []);
  return inTransaction(sql, async (tx) => {
    await pinSession(tx);
    const histogram = await histogramOf(tx, plan);
    const out: CutWindow[] = [];
    let from = frontier.lastEnd;
    for (let i = 0; i < slots; i++) {
      const next = await nextWindow(
        tx,
        plan,
        histogram,
        from,
        Math.min(goal, settings.maxRows),
        settings.maxRows,
      );
      if (!next) break;
      out.push(identityOf(database, plan, next));
      from = next.range.end;
    }
    return out;
  });
}

/** The histogram of the time column; a table never analyzed is analyzed once (a sample, not a scan). */
async function histogramOf(tx: Tx, plan: WindowPlan): Promise<Histogram | undefined> {
  const stats = await timeStatistics(tx, plan.table, plan.column, plan.dimension);
  if (stats) return stats;
  await analyzeOnly(tx, plan.table);
  return timeStatistics(tx, plan.table, plan.column, plan.dimension);
}

async function nextWindow(
  tx: Tx,
  plan: WindowPlan,
  histogram: Histogram | undefined,
  from: string | null,
  goal: number,
  maxRows: number,
): Promise<{ range: RowRange; expected: number } | undefined> {
  const cutoff = plan.cutoff;
  const first = await firstTimeFrom(tx, plan.table, {
    column: plan.column,
    dimension: plan.dimension,
    from,
    cutoff: boundText(plan, cutoff),
  });
  if (first === null) return undefined;
  // Contiguous: a window starts where the last ended, so no stretch of time is left between two.
  const start = from === null ? Math.floor(first) : boundValue(plan, from);
  const estimate = (end: number) => (histogram ? histogramRows(histogram, start, end) : 0);
  let end = endForRows(estimate, start, cutoff, goal);
  let expected = Math.round(estimate(end));
  const range = (e: number): RowRange => ({
    column: plan.column,
    dimension: plan.dimension,
    start: boundText(plan, start),
    end: boundText(plan, e),
  });
  if (plan.timeIndexed) {
    // Statistics are a sample and age: bounded counts (an index scan of at most 2× the goal)
    // correct the end until the window holds about the goal.
    const cap = Math.min(goal * 2, maxRows);
    for (let probe = 0; probe < MAX_PROBES; probe++) {
      expected = await boundedCount(tx, plan.table, range(end), cap + 1);
      if (acceptable(expected, goal, end >= cutoff) && expected <= cap) break;
      end = rescaledEnd(start, end, cutoff, goal, expected);
    }
    // max_rows is a bound, not a goal: halve until the window is within it (or one unit wide).
    for (let halving = 0; expected > cap && end - start > 1 && halving < 64; halving++) {
      end = start + Math.floor((end - start) / 2);
      expected = await boundedCount(tx, plan.table, range(end), cap + 1);
    }
  }
  return { range: range(end), expected };
}

function identityOf(
  database: string,
  plan: WindowPlan,
  window: { range: RowRange; expected: number },
): CutWindow {
  return {
    database,
    source_kind: 'table',
    table_schema: plan.table.schema,
    table_name: plan.table.name,
    chunk_schema: plan.table.schema,
    chunk_name: plan.table.name,
    chunk_oid: plan.oid,
    dimension_slices: [],
    time_column: plan.column,
    dimension_type: plan.dimension,
    chunk_start_time: window.range.start,
    chunk_end_time: window.range.end,
    expected_rows: window.expected,
  };
}
