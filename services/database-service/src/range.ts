/** Half-open ranges of a chunk's primary dimension, shared by retention (holds) and restore. */
export type Dimension = 'timestamp' | 'integer';

/** A comparable bound: epoch milliseconds for time dimensions, the value itself for integers. */
export type Bound = number | bigint;

export function boundOf(text: string, dimension: Dimension): Bound {
  return dimension === 'integer' ? BigInt(text) : Date.parse(text);
}

/** Half-open ranges [aStart, aEnd) and [bStart, bEnd) share at least one value. */
export function overlaps(aStart: Bound, aEnd: Bound, bStart: Bound, bEnd: Bound): boolean {
  return aStart < bEnd && bStart < aEnd;
}
