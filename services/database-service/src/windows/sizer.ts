import type { WindowSettings } from '../config.js';

/**
 * Window sizing, after the source archiver's AdaptiveBatchSizer: how many rows the next window
 * should hold, and where its end must lie to hold them. Pure functions of the planner's statistics
 * and of what earlier windows did; the database is asked in cut.ts.
 */

/** What the planner knows of the time column: non-null rows and equal-frequency histogram bounds. */
export interface Histogram {
  rows: number;
  bounds: number[];
}

/** A removed window, as the sizer learns from it. */
export interface PastWindow {
  rows: number;
  expected: number | null;
  removal_ms: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * The rows the next window aims at: target_rows, less when the last deletes ran slower than
 * target_seconds allows (at the rate they ran), within min_rows..max_rows. Half a step at a time,
 * so one slow delete (a checkpoint, a lock wait) does not halve every later window.
 */
export function nextGoal(settings: WindowSettings, recent: PastWindow[]): number {
  const last = recent.find((w) => w.rows > 0 && w.removal_ms > 0);
  let goal = settings.targetRows;
  if (last) {
    const byTime = (last.rows * settings.targetSeconds * 1000) / last.removal_ms;
    const previous = clamp(last.expected ?? last.rows, settings.minRows, settings.maxRows);
    goal = Math.min(settings.targetRows, (previous + byTime) / 2);
  }
  return Math.round(clamp(goal, settings.minRows, settings.maxRows));
}

/** The histogram's estimate of the rows in [start, end), interpolating linearly inside a bucket. */
export function histogramRows(histogram: Histogram, start: number, end: number): number {
  const { bounds } = histogram;
  const buckets = bounds.length - 1;
  let fraction = 0;
  for (let i = 0; i < buckets; i++) {
    const lo = bounds[i]!;
    const hi = bounds[i + 1]!;
    if (hi <= lo) {
      if (lo >= start && lo < end) fraction += 1 / buckets;
      continue;
    }
    const overlap = Math.min(hi, end) - Math.max(lo, start);
    if (overlap > 0) fraction += overlap / (hi - lo) / buckets;
  }
  return histogram.rows * fraction;
}

/**
 * The least end in (start, cutoff] whose estimate reaches `goal` (the cutoff when even it does
 * not), by bisection to a resolution of one unit (a millisecond, or one integer).
 */
export function endForRows(
  estimate: (end: number) => number,
  start: number,
  cutoff: number,
  goal: number,
): number {
  if (estimate(cutoff) <= goal) return cutoff;
  let lo = start;
  let hi = cutoff;
  for (let i = 0; i < 80 && hi - lo > 1; i++) {
    const mid = Math.floor((lo + hi) / 2);
    if (estimate(mid) < goal) lo = mid;
    else hi = mid;
  }
  return Math.max(hi, start + 1);
}

/**
 * The next end to try after a count: the window's width scaled by goal/counted (the density it
 * showed), at most ×8 and at least ÷8 per step, within (start, cutoff].
 */
export function rescaledEnd(
  start: number,
  end: number,
  cutoff: number,
  goal: number,
  counted: number,
): number {
  const factor = clamp(goal / Math.max(counted, 1), 1 / 8, 8);
  return clamp(start + Math.max(1, Math.floor((end - start) * factor)), start + 1, cutoff);
}

/** A count is close enough when it is within half to twice the goal (or the window reaches the cutoff). */
export function acceptable(counted: number, goal: number, atCutoff: boolean): boolean {
  if (counted > goal * 2) return false;
  return atCutoff || counted >= goal / 2;
}
