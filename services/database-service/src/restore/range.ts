import { RestoreError } from '../errors.js';
import type { Bound, Dimension } from '../range.js';

export { type Bound, boundOf, type Dimension, overlaps } from '../range.js';

/** Parses a request's `from`/`to` for the archive's dimension, naming the field when it cannot. */
export function parseBound(field: string, text: string, dimension: Dimension): Bound {
  if (dimension === 'integer') {
    if (!/^-?\d{1,19}$/.test(text.trim())) {
      throw new RestoreError(
        'BAD_BOUND',
        `${field}: "${text}" is not an integer, and this table is partitioned on an integer column`,
        { field },
      );
    }
    return BigInt(text.trim());
  }
  // Date-only and full ISO 8601 forms; a bare date means midnight UTC, like the archive's keys.
  if (!/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}(:?\d{2})?)?)?$/.test(text.trim())) {
    throw new RestoreError(
      'BAD_BOUND',
      `${field}: "${text}" is not an ISO 8601 time such as 2024-01-31T00:00:00Z`,
      { field },
    );
  }
  const trimmed = text.trim();
  const withZone = /[T ][0-9:.]+$/.test(trimmed) ? `${trimmed}Z` : trimmed;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  if (Number.isNaN(ms))
    throw new RestoreError('BAD_BOUND', `${field}: "${text}" is not a valid time`, { field });
  return ms;
}
