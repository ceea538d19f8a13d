import type postgres from 'postgres';

/**
 * The ledger's schema, in order. Each entry runs once, in its own transaction, recorded in
 * archiver.schema_migrations; never edit an applied entry, append a new one.
 */
export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'chunks ledger',
    sql: `
      create table archiver.chunks (
        id bigserial primary key,
        source_kind text not null check (source_kind in ('timescaledb', 'partition')),
        table_schema text not null,
        table_name text not null,
        chunk_schema text not null,
        chunk_name text not null,
        time_column text not null,
        dimension_type text not null check (dimension_type in ('timestamp', 'integer')),
        range_start text not null,
        range_end text not null,
        state text not null default 'pending'
          check (state in ('pending', 'requested', 'archived', 'dropped', 'failed', 'dead')),
        attempts int not null default 0,
        request_event_id uuid,
        requested_at timestamptz,
        next_attempt_at timestamptz,
        last_error_code text,
        last_error text,
        object_backend text,
        object_container text,
        object_key text,
        manifest_key text,
        row_count bigint,
        bytes bigint,
        sha256 text,
        content_checksum text,
        discovered_at timestamptz not null default now(),
        archived_at timestamptz,
        dropped_at timestamptz,
        updated_at timestamptz not null default now(),
        unique (chunk_schema, chunk_name)
      );
      create index chunks_state_idx on archiver.chunks (state, next_attempt_at);
      create table archiver.chunk_events (
        id bigserial primary key,
        chunk_id bigint not null references archiver.chunks (id),
        at timestamptz not null default now(),
        from_state text,
        to_state text not null,
        detail text
      );`,
  },
  {
    version: 2,
    name: 'restores ledger',
    sql: `
      create table archiver.restores (
        id bigserial primary key,
        state text not null check (state in ('restored', 'failed', 'released')),
        source_schema text not null,
        source_table text not null,
        target_schema text not null,
        target_table text not null,
        object_key text not null,
        manifest_key text not null,
        chunk_schema text not null,
        chunk_name text not null,
        time_column text not null,
        dimension_type text not null check (dimension_type in ('timestamp', 'integer')),
        range_start text not null,
        range_end text not null,
        columns text[] not null,
        archived_rows bigint not null,
        restored_rows bigint not null default 0,
        skipped_rows bigint not null default 0,
        content_checksum text not null,
        held boolean not null default false,
        created_partition boolean not null default false,
        error_code text,
        error text,
        requested_by text,
        started_at timestamptz not null,
        finished_at timestamptz not null default now(),
        released_at timestamptz
      );
      create index restores_holds_idx on archiver.restores (source_schema, source_table)
        where held and state = 'restored';`,
  },
  {
    version: 3,
    name: 'chunk identity over time: OID, dimension slices, storage form',
    sql: `
      alter table archiver.chunks
        add column chunk_oid bigint,
        add column dimension_slices jsonb not null default '[]',
        add column storage_form text check (storage_form in ('heap', 'compressed', 'partial'));
      -- Chunks still in the database get their current OID; dropped ones keep none, so a table
      -- re-created under a dropped one's name is a new chunk.
      update archiver.chunks set chunk_oid = to_regclass(format('%I.%I', chunk_schema, chunk_name))::oid
      where state <> 'dropped';
      alter table archiver.chunks drop constraint chunks_chunk_schema_chunk_name_key;
      create unique index chunks_identity_idx on archiver.chunks (chunk_schema, chunk_name, coalesce(chunk_oid, 0));
      create index chunks_request_idx on archiver.chunks (request_event_id);`,
  },
  {
    version: 4,
    name: 'plain-table windows: the range joins the identity, expected rows and removal time',
    sql: `
      alter table archiver.chunks drop constraint chunks_source_kind_check;
      alter table archiver.chunks add constraint chunks_source_kind_check
        check (source_kind in ('timescaledb', 'partition', 'table'));
      -- A plain table's windows share its name and OID; the range tells them apart.
      drop index archiver.chunks_identity_idx;
      create unique index chunks_identity_idx
        on archiver.chunks (chunk_schema, chunk_name, coalesce(chunk_oid, 0), range_start, range_end);
      alter table archiver.chunks
        add column expected_rows bigint,
        add column removal_ms integer;`,
  },
];

/** Serialises concurrent start-ups: the key is arbitrary but fixed. */
const MIGRATION_LOCK = 7_243_110_001;

/** Creates the archiver schema and applies what is missing; safe to run from several replicas. */
export async function migrate(sql: postgres.Sql): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create schema if not exists archiver`;
    await tx`create table if not exists archiver.schema_migrations (
      version int primary key, name text not null, applied_at timestamptz not null default now())`;
    const done = new Set(
      (await tx<{ version: number }[]>`select version from archiver.schema_migrations`).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`insert into archiver.schema_migrations (version, name) values (${m.version}, ${m.name})`;
      applied.push(m.version);
    }
    return applied;
  });
}
