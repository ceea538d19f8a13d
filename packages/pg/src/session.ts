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

/**
 * TimescaleDB settings under which reading a chunk sees its compressed rows: with either switched
 * the other way, a compressed chunk reads as its (empty) heap. Pinned only where the server knows
 * them, so a plain PostgreSQL and older TimescaleDB versions are unaffected.
 */
export const TIMESCALEDB_READ_SETTINGS: Readonly<Record<string, string>> = {
  'timescaledb.enable_columnarscan': 'on',
  'timescaledb.enable_transparent_decompression': 'on',
  'timescaledb.restoring': 'off',
};

/** Applies PINNED_SETTINGS (and TIMESCALEDB_READ_SETTINGS) for the current transaction only. */
export async function pinSession(tx: postgres.TransactionSql | postgres.Sql): Promise<void> {
  const names = Object.keys(TIMESCALEDB_READ_SETTINGS);
  const values = Object.values(TIMESCALEDB_READ_SETTINGS);
  await tx`
    select set_config('TimeZone', ${PINNED_SETTINGS.TimeZone!}, true),
           set_config('DateStyle', ${PINNED_SETTINGS.DateStyle!}, true),
           set_config('IntervalStyle', ${PINNED_SETTINGS.IntervalStyle!}, true),
           set_config('extra_float_digits', ${PINNED_SETTINGS.extra_float_digits!}, true),
           set_config('bytea_output', ${PINNED_SETTINGS.bytea_output!}, true),
           (select count(set_config(s.name, w.value, true))
            from unnest(${names}::text[], ${values}::text[]) as w(name, value)
            join pg_settings s on s.name = w.name)`;
}
