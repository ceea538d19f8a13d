import type postgres from 'postgres';

type Db = postgres.Sql | postgres.TransactionSql;

export interface RetentionPolicyJob {
  job_id: number;
  drop_after: string | null;
}

/**
 * TimescaleDB retention policies (`add_retention_policy`) on a hypertable: each would drop
 * chunks this archiver has not archived.
 */
export async function retentionPolicies(
  sql: Db,
  table: { schema: string; name: string },
): Promise<RetentionPolicyJob[]> {
  return sql<RetentionPolicyJob[]>`
    select job_id, config->>'drop_after' as drop_after
    from timescaledb_information.jobs
    where proc_name = 'policy_retention' and hypertable_schema = ${table.schema}
      and hypertable_name = ${table.name}
    order by job_id`;
}

export interface AggregateWatermark {
  /** `schema.view` of the continuous aggregate. */
  view: string;
  /** Materialized up to (exclusive) this point: ISO time, or the integer for integer time. */
  watermark: string;
  /** For time dimensions: the watermark as epoch milliseconds. */
  watermark_ms: number | null;
}

/**
 * The continuous aggregates built directly on a hypertable, each with how far it has
 * materialized. A chunk whose range ends past an aggregate's watermark still has rows that
 * aggregate has not read.
 */
export async function aggregateWatermarks(
  sql: Db,
  table: { schema: string; name: string },
): Promise<AggregateWatermark[]> {
  const rows = await sql<{ view: string; watermark: string; is_time: boolean; ms: string | null }[]>`
    select format('%I.%I', ca.user_view_schema, ca.user_view_name) as view,
           w.watermark::text as watermark,
           d.column_type in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) as is_time,
           case when d.column_type in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
                then (extract(epoch from _timescaledb_functions.to_timestamp(w.watermark)) * 1000)::bigint::text end as ms
    from _timescaledb_catalog.continuous_agg ca
    join _timescaledb_catalog.hypertable h on h.id = ca.raw_hypertable_id
    join lateral (select _timescaledb_functions.cagg_watermark(ca.mat_hypertable_id) as watermark) w on true
    join lateral (select column_type from _timescaledb_catalog.dimension
                  where hypertable_id = h.id order by id limit 1) d on true
    where h.schema_name = ${table.schema} and h.table_name = ${table.name}
    order by 1`;
  return rows.map((r) => ({
    view: r.view,
    watermark: r.is_time ? new Date(Number(r.ms)).toISOString() : r.watermark,
    watermark_ms: r.is_time ? Number(r.ms) : null,
  }));
}

/** Aggregates that have not yet materialized up to `rangeEnd` (ISO time or integer). */
export function aggregatesBehind(
  watermarks: AggregateWatermark[],
  dimension: 'timestamp' | 'integer',
  rangeEnd: string,
): AggregateWatermark[] {
  return watermarks.filter((w) =>
    dimension === 'integer'
      ? BigInt(w.watermark) < BigInt(rangeEnd)
      : (w.watermark_ms ?? Number.NEGATIVE_INFINITY) < Date.parse(rangeEnd),
  );
}
