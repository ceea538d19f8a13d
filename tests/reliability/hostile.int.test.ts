import { randomUUID } from 'node:crypto';
import { createRedisBus, createRedisClient } from '@chunk-archiver/bus';
import {
  type ArchivalConfirmation,
  buildArchivalConfirmation,
  buildArchivalRequest,
  signEvent,
  TOPICS,
} from '@chunk-archiver/events';
import { archiveKeys } from '@chunk-archiver/storage';
import { AZURITE_KEY } from '@chunk-archiver/testkit';

import { describe, expect, it } from 'vitest';
import { type Cluster, createCluster, recordResult, SECRETS } from './cluster.js';

interface Tried {
  input: string;
  outcome: string;
}

const tried: Tried[] = [];
function note(input: string, outcome: string): void {
  tried.push({ input, outcome });
}

async function* bytes(buffer: Buffer): AsyncGenerator<Uint8Array> {
  yield buffer;
}

/** A chunk's identity as the manager requested it, from its ledger row. */
async function requested(cluster: Cluster, chunk: string) {
  const sql = cluster.databases[0]!.sql;
  const [row] = await sql<
    {
      chunk_name: string;
      range_start: string;
      range_end: string;
      request_event_id: string;
      state: string;
      chunk_oid: string;
    }[]
  >`select chunk_name, range_start, range_end, request_event_id::text, state, chunk_oid::text
    from archiver.chunks where chunk_name = ${chunk} order by id desc limit 1`;
  const identity = {
    database: 'db0',
    source_kind: 'partition' as const,
    table_schema: 'public',
    table_name: 'events',
    chunk_schema: 'public',
    chunk_name: chunk,
    time_column: 'at',
    dimension_type: 'timestamp' as const,
    chunk_start_time: row!.range_start,
    chunk_end_time: row!.range_end,
    chunk_oid: row!.chunk_oid,
  };
  return { row: row!, identity, keys: archiveKeys('archive', identity) };
}

function success(
  identity: Awaited<ReturnType<typeof requested>>['identity'],
  requestEventId: string,
  object: { key: string; manifest_key: string },
  manifest: { bytes: number; sha256: string; row_count: number },
  /** null: unsigned. */
  secret: string | null = SECRETS.eventSecret,
): ArchivalConfirmation {
  return buildArchivalConfirmation(
    {
      ...identity,
      request_event_id: requestEventId,
      attempt: 1,
      completed_at: new Date().toISOString(),
      status: 'SUCCESS',
      object: { backend: 'azure', container: 'archive', ...object },
      manifest: { ...manifest, content_checksum: '12345', codec: 'snappy', columns: [] },
    },
    { producer: 'attacker', secret: secret ?? undefined },
  );
}

async function ledgerRow(cluster: Cluster, chunk: string) {
  const [row] = await cluster.databases[0]!.sql<
    { state: string; last_error_code: string | null; last_error: string | null }[]
  >`select state, last_error_code, last_error from archiver.chunks where chunk_name = ${chunk}`;
  return row!;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('reliability: hostile and bad input', () => {
  it('forged, replayed and malformed events and hostile HTTP requests change nothing and leak no secret', async () => {
    const cluster = await createCluster({ storage: 'azure', secrets: true });
    const raw = createRedisClient({ url: cluster.redis.url });
    const bus = createRedisBus({ redis: { url: cluster.redis.url }, keyPrefix: '' });
    const responses: string[] = [];
    try {
      const sql = cluster.databases[0]!.sql;
      await sql`create table x (survives int)`;
      // The manager alone: every expired chunk is requested, and nothing archives them yet.
      const manager = await cluster.startManager();
      await until('six requested chunks', async () =>
        (await cluster.ledger()).filter((r) => r.state === 'requested').length === 6 ? true : undefined,
      );

      // --- Confirmations that must not lead to a drop -------------------------------------
      /** Publishes a forged SUCCESS for a requested chunk and waits for the manager's refusal. */
      const refused = async (
        input: string,
        chunk: string,
        code: string,
        object: (keys: { dataKey: string; manifestKey: string }) => { key: string; manifest_key: string },
        manifest: { bytes: number; sha256: string; row_count: number },
      ) => {
        const c = await requested(cluster, chunk);
        await bus.publish(
          TOPICS.archivalConfirmation,
          success(c.identity, c.row.request_event_id, object(c.keys), manifest),
        );
        // Refused for what the archive is (a failed attempt), or for what the message claims
        // (recorded on the chunk's history, its state untouched).
        const row = await until(code, async () => {
          const r = await ledgerRow(cluster, chunk);
          if (r.last_error_code === code) return r;
          const [event] = await sql<{ detail: string }[]>`
            select e.detail from archiver.chunk_events e join archiver.chunks c on c.id = e.chunk_id
            where c.chunk_name = ${chunk} and e.detail like ${`%refused: ${code}%`}`;
          return event ? { ...r, last_error: event.detail } : undefined;
        });
        expect(await sql`select to_regclass(${chunk}) is not null as present`).toEqual([{ present: true }]);
        note(input, `not dropped; ledger ${row.state}: ${row.last_error}`);
      };
      const atItsKey = (keys: { dataKey: string; manifestKey: string }) => ({
        key: keys.dataKey,
        manifest_key: keys.manifestKey,
      });
      await refused(
        'SUCCESS confirmation for an object that does not exist',
        'events_2021_01',
        'OBJECT_MISSING',
        atItsKey,
        {
          bytes: 10,
          sha256: 'a'.repeat(64),
          row_count: 1500,
        },
      );
      const garbage = Buffer.from('not the archive at all');
      await cluster.store.upload((await requested(cluster, 'events_2021_02')).keys.dataKey, bytes(garbage));
      await refused(
        'SUCCESS confirmation for a stored object that has no manifest beside it',
        'events_2021_02',
        'MANIFEST_MISSING',
        atItsKey,
        {
          bytes: garbage.length,
          sha256: 'b'.repeat(64),
          row_count: 1500,
        },
      );
      await refused(
        'SUCCESS confirmation naming an object under another key',
        'events_2021_05',
        'KEY_MISMATCH',
        () => ({
          key: 'archive/elsewhere/x.parquet',
          manifest_key: 'archive/elsewhere/x.parquet.manifest.json',
        }),
        { bytes: 1, sha256: 'c'.repeat(64), row_count: 1 },
      );

      const c3 = await requested(cluster, 'events_2021_03');
      const good3 = { key: c3.keys.dataKey, manifest_key: c3.keys.manifestKey };
      const stats = { bytes: 1, sha256: 'd'.repeat(64), row_count: 1 };
      await bus.publish(
        TOPICS.archivalConfirmation,
        success(c3.identity, c3.row.request_event_id, good3, stats, null),
      );
      const forged = success(c3.identity, c3.row.request_event_id, good3, stats, 'a-guessed-secret');
      await bus.publish(TOPICS.archivalConfirmation, forged);
      const tampered = { ...success(c3.identity, c3.row.request_event_id, good3, stats) };
      (tampered.data as { chunk_name: string }).chunk_name = 'events_2021_04';
      await bus.publish(TOPICS.archivalConfirmation, tampered);
      const deadConfirmations = await until('three dead-lettered confirmations', async () => {
        const dead = await bus.deadLetters(TOPICS.archivalConfirmation);
        return dead.length >= 3 ? dead : undefined;
      });
      const reasons = deadConfirmations.map((d) => d.reason);
      expect(reasons.filter((r) => r.includes('SIGNATURE_MISSING'))).toHaveLength(1);
      expect(reasons.filter((r) => r.includes('SIGNATURE_INVALID'))).toHaveLength(2);
      expect((await ledgerRow(cluster, 'events_2021_03')).state).toBe('requested');
      expect((await ledgerRow(cluster, 'events_2021_04')).state).toBe('requested');
      note('unsigned confirmation (secret set)', 'dead-lettered: SIGNATURE_MISSING; ledger unchanged');
      note('confirmation signed with the wrong secret', 'dead-lettered: SIGNATURE_INVALID; ledger unchanged');
      note(
        'signed confirmation altered after signing (chunk name)',
        'dead-lettered: SIGNATURE_INVALID; ledger unchanged',
      );

      const c6 = await requested(cluster, 'events_2021_06');
      await bus.publish(
        TOPICS.archivalConfirmation,
        buildArchivalConfirmation(
          {
            ...c6.identity,
            request_event_id: randomUUID(),
            attempt: 1,
            completed_at: new Date().toISOString(),
            status: 'FAILED',
            error: { code: 'INTERNAL', message: 'stale', retryable: false },
          },
          { producer: 'attacker', secret: SECRETS.eventSecret },
        ),
      );
      await new Promise((r) => setTimeout(r, 1500));
      expect((await ledgerRow(cluster, 'events_2021_06')).state).toBe('requested');
      note(
        'FAILED confirmation for a request that was never sent (stale, reordered)',
        'ignored; ledger unchanged',
      );

      // --- Requests the archival-service must refuse -------------------------------------
      const stream = TOPICS.archivalRequest;
      await raw.xadd(stream, '*', 'payload', 'this is {not json', 'event_type', stream);
      const real = (await raw.xrange(stream, '-', '+', 'COUNT', 1))[0]!;
      const realEvent = JSON.parse(real[1][1]!) as Record<string, unknown>;
      const wrongTypes = structuredClone(realEvent) as { data: Record<string, unknown> };
      wrongTypes.data.chunk_name = 12345;
      await raw.xadd(stream, '*', 'payload', JSON.stringify(wrongTypes), 'event_type', stream);
      const huge = structuredClone(realEvent) as { data: Record<string, unknown> };
      huge.data.table_name = 'h'.repeat(1024 * 1024);
      await raw.xadd(stream, '*', 'payload', JSON.stringify(huge), 'event_type', stream);
      await raw.xadd(
        stream,
        '*',
        'payload',
        JSON.stringify({ ...realEvent, schema_version: 99 }),
        'event_type',
        stream,
      );

      const hostileRequest = (table: string, chunkSchema: string, chunk: string) =>
        buildArchivalRequest(
          {
            database: 'db0',
            source_kind: 'partition',
            table_schema: 'public',
            table_name: table,
            chunk_schema: chunkSchema,
            chunk_name: chunk,
            time_column: 'at',
            dimension_type: 'timestamp',
            chunk_start_time: '2021-01-01T00:00:00.000Z',
            chunk_end_time: '2021-02-01T00:00:00.000Z',
            attempt: 1,
            requested_at: new Date().toISOString(),
          },
          { producer: 'attacker', secret: SECRETS.eventSecret },
        );
      await bus.publish(stream, hostileRequest('audit"; DROP TABLE x; --', 'public', 'events_2021_01'));
      await bus.publish(stream, hostileRequest('events', 'public', 'x"; DROP TABLE x; --'));
      await bus.publish(stream, hostileRequest('events', 'pg_catalog', 'pg_authid'));
      await bus.publish(stream, signEvent({ ...realEvent, signature: undefined }, SECRETS.eventSecret));
      note(
        'request replayed (the same event twice)',
        'archived once; the replay found the chunk gone: FAILED CHUNK_NOT_FOUND, ignored by the manager',
      );

      // --- Now the worker: it must refuse the bad, archive the good, and keep serving ------
      const worker = await cluster.startWorker();
      const started = Date.now();
      const deadRequests = await until('four dead-lettered requests', async () => {
        const dead = await bus.deadLetters(stream);
        return dead.length >= 4 ? dead : undefined;
      });
      for (const [input, reason] of [
        ['request that is not JSON', /EVENT_NOT_JSON/],
        ['request with a number where a chunk name belongs', /data\.chunk_name: .*expected string/],
        ['request with a 1 MiB field', /EVENT_TOO_LARGE/],
        ['request with an unknown schema version', /schema_version/],
      ] as const) {
        const found = deadRequests.find((d) => reason.test(d.reason));
        expect(found, input).toBeDefined();
        note(input, `dead-lettered: ${found!.reason.slice(0, 140)}`);
      }
      const failures = await until('FAILED confirmations for the hostile identifiers', async () => {
        const entries = await raw.xrange(TOPICS.archivalConfirmation, '-', '+');
        const failed = entries
          .map((e) => JSON.parse(e[1][1]!) as ArchivalConfirmation)
          .filter((e) => e.data.status === 'FAILED' && e.producer !== 'attacker');
        return failed.length >= 3 ? failed : undefined;
      });
      for (const f of failures) {
        const data = f.data as {
          table_name: string;
          chunk_schema: string;
          chunk_name: string;
          error: { code: string };
        };
        note(
          `request for ${data.chunk_schema}.${data.chunk_name} of table ${data.table_name}`,
          `FAILED ${data.error.code}, no SQL run with it`,
        );
      }
      expect(await sql`select to_regclass('x') is not null as present`).toEqual([{ present: true }]);
      expect((await fetch(`${worker.url}/health`)).status).toBe(200);

      const converged = await cluster.waitConverged(started, 90_000);
      const outcome = await cluster.outcome();
      expect(outcome.problems).toEqual([]);
      expect(outcome).toMatchObject({ rowsLost: 0, wrongDrops: 0, dropped: 6 });

      // Replays after the drops: a real SUCCESS and a late FAILED change nothing.
      const confirmations = (await raw.xrange(TOPICS.archivalConfirmation, '-', '+'))
        .map((e) => e[1][1]!)
        .filter((p) => p.includes('"SUCCESS"') && !p.includes('"attacker"'));
      for (const payload of confirmations.slice(0, 3)) {
        await raw.xadd(
          TOPICS.archivalConfirmation,
          '*',
          'payload',
          payload,
          'event_type',
          TOPICS.archivalConfirmation,
        );
      }
      await new Promise((r) => setTimeout(r, 1500));
      expect((await cluster.ledger()).every((r) => r.state === 'dropped')).toBe(true);
      expect(
        await sql`select count(*)::int as n from archiver.chunk_events where to_state = 'dropped'`,
      ).toEqual([{ n: 6 }]);
      note('real SUCCESS confirmations replayed after the drop', 'no second drop, no ledger change');

      // --- HTTP ------------------------------------------------------------------------
      const auth = { authorization: `Bearer ${SECRETS.apiToken}` };
      const cases: Array<[string, string, RequestInit, number]> = [
        [
          'unknown table',
          '/database/retention/trigger-archival?table_name=nope',
          { method: 'POST', headers: auth },
          404,
        ],
        [
          'injection in table_name',
          `/database/retention/trigger-archival?table_name=${encodeURIComponent('x"; drop table x; --')}`,
          { method: 'POST', headers: auth },
          404,
        ],
        [
          'missing table_name',
          '/database/retention/trigger-archival',
          { method: 'POST', headers: auth },
          400,
        ],
        [
          'unknown parameter',
          '/database/retention/trigger-archival?table_name=events&force=1',
          { method: 'POST', headers: auth },
          400,
        ],
        [
          'bad boolean',
          '/database/retention/trigger-archival?table_name=events&dry_run=maybe',
          { method: 'POST', headers: auth },
          400,
        ],
        [
          'no bearer token',
          '/database/retention/trigger-archival?table_name=events',
          { method: 'POST' },
          401,
        ],
        [
          'wrong bearer token',
          '/database/retention/trigger-archival?table_name=events',
          { method: 'POST', headers: { authorization: 'Bearer guess' } },
          401,
        ],
        [
          'oversized body',
          '/database/retention/restore',
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ table: 'events', from: 'x'.repeat(100_000), to: 'y' }),
          },
          413,
        ],
        [
          'wrong content type',
          '/database/retention/restore',
          { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: 'a,b' },
          415,
        ],
        [
          'malformed JSON',
          '/database/retention/restore',
          { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"table":' },
          400,
        ],
        [
          'restore with a bad time',
          '/database/retention/restore',
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ table: 'events', from: 'yesterday', to: '2021-02-01' }),
          },
          400,
        ],
        [
          'restore of a table never archived',
          '/database/retention/restore',
          {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ table: 'pg_catalog.pg_authid', from: '2021-01-01', to: '2021-02-01' }),
          },
          404,
        ],
        ['unknown route', '/../../etc/passwd', { method: 'GET' }, 404],
      ];
      for (const [what, path, init, status] of cases) {
        const response = await fetch(`${manager.url}${path}`, init);
        const body = await response.text();
        responses.push(body);
        expect(response.status, `${what}: ${body}`).toBe(status);
        const json = JSON.parse(body) as { message: string };
        expect(json.message.length, what).toBeGreaterThan(5);
        expect(body, what).not.toMatch(/\bat .*\.js:\d+/);
        note(`HTTP: ${what}`, `${status}: ${json.message.slice(0, 120)}`);
      }
      responses.push(await (await fetch(`${manager.url}/database/retention/status`)).text());
      responses.push(await (await fetch(`${manager.url}/ready`)).text());
      responses.push(await (await fetch(`${worker.url}/ready`)).text());
      responses.push(await (await fetch(`${worker.url}/archival/metrics`)).text());
      expect(converged).toBeGreaterThan(0);
    } finally {
      const logs = cluster.running.map((r) => r.logs()).join('\n');
      raw.disconnect();
      await bus.close();
      await cluster.stop();
      // Secrets: never in a log line or a response body.
      for (const [name, secret] of Object.entries({ ...SECRETS, azureAccountKey: AZURITE_KEY })) {
        expect(logs.includes(secret), `${name} in the logs`).toBe(false);
        expect(responses.join('\n').includes(secret), `${name} in an HTTP response`).toBe(false);
      }
      expect(logs).not.toMatch(/AccountKey=/);
      note(
        'secrets (database password, bearer token, HMAC secret, storage key) in logs or responses',
        'none found',
      );
      await recordResult('hostile', { tried });
    }
  }, 180_000);
});
