import type postgres from 'postgres';

/**
 * Settings that change how a row prints as text. The content checksum hashes `row::text`, so the
 * archiver (at extraction) and the retention manager (at drop) must print rows identically:
 * both pin these inside their transaction.
 */
export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  client_encoding: 'UTF8',
};

/** Applies PINNED_SETTINGS for the current transaction only (set_config(..., true)). */
export async function pinSession(tx: postgres.TransactionSql | postgres.Sql): Promise<void> {
  await tx`
    select set_config('TimeZone', ${PINNED_SETTINGS.TimeZone!}, true),
           set_config('DateStyle', ${PINNED_SETTINGS.DateStyle!}, true),
           set_config('IntervalStyle', ${PINNED_SETTINGS.IntervalStyle!}, true),
           set_config('extra_float_digits', ${PINNED_SETTINGS.extra_float_digits!}, true),
           set_config('bytea_output', ${PINNED_SETTINGS.bytea_output!}, true)`;
}
