import { describe, expect, it } from 'vitest';
import {
  buildArchivalRequest,
  MAX_EVENT_BYTES,
  parseArchivalConfirmation,
  parseArchivalRequest,
} from '../src/index.js';
import { requestData, requestEvent } from './fixtures.js';

function fieldsOf(result: ReturnType<typeof parseArchivalRequest>) {
  if (result.ok) throw new Error('expected a failure');
  return result.error.issues.map((i) => i.field);
}

describe('parseArchivalRequest', () => {
  it('accepts a well-formed request and keeps its fields', () => {
    const event = requestEvent();
    const result = parseArchivalRequest(event);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value.data).toEqual(event.data);
  });

  it('accepts the same event as a JSON string and as a Buffer', () => {
    const event = requestEvent();
    expect(parseArchivalRequest(JSON.stringify(event)).ok).toBe(true);
    expect(parseArchivalRequest(Buffer.from(JSON.stringify(event))).ok).toBe(true);
  });

  it('lists every missing and mistyped field, not just the first', () => {
    const event = requestEvent({}, { attempt: 'one', chunk_name: undefined, database: 42 });
    const result = parseArchivalRequest(event);
    expect(result.ok).toBe(false);
    expect(fieldsOf(result).sort()).toEqual(['data.attempt', 'data.chunk_name', 'data.database']);
    if (!result.ok) {
      expect(result.error.code).toBe('EVENT_INVALID');
      expect(result.error.message).toContain('data.attempt');
    }
  });

  it('refuses bad timestamps and a range that ends before it starts', () => {
    expect(fieldsOf(parseArchivalRequest(requestEvent({ occurred_at: 'yesterday' })))).toEqual([
      'occurred_at',
    ]);
    expect(
      fieldsOf(parseArchivalRequest(requestEvent({}, { chunk_start_time: '2024-13-45T99:00:00Z' }))),
    ).toContain('data.chunk_start_time');
    const reversed = requestEvent(
      {},
      { chunk_start_time: '2024-02-01T00:00:00Z', chunk_end_time: '2024-01-01T00:00:00Z' },
    );
    expect(fieldsOf(parseArchivalRequest(reversed))).toEqual(['data.chunk_end_time']);
  });

  it('accepts integer dimensions and refuses timestamps on them', () => {
    const ok = requestEvent({}, { dimension_type: 'integer', chunk_start_time: '0', chunk_end_time: '1000' });
    expect(parseArchivalRequest(ok).ok).toBe(true);
    const bad = requestEvent({}, { dimension_type: 'integer', chunk_start_time: '2024-01-01T00:00:00Z' });
    expect(fieldsOf(parseArchivalRequest(bad))).toContain('data.chunk_start_time');
  });

  it('refuses an unknown schema_version, an unknown event type and unknown fields', () => {
    expect(fieldsOf(parseArchivalRequest(requestEvent({ schema_version: 2 })))).toEqual(['schema_version']);
    expect(
      fieldsOf(parseArchivalRequest(requestEvent({ event_type: 'database.archival.confirmation' }))),
    ).toEqual(['event_type']);
    const extra = parseArchivalRequest(requestEvent({}, { connection_string: 'postgres://x' }));
    expect(extra.ok).toBe(false);
    if (!extra.ok) expect(extra.error.message).toContain('connection_string');
  });

  it('says an object of another producer is no event of this contract, naming the fields it has', () => {
    const legacy = { table_name: 'metrics', chunk_name: '_hyper_1_1_chunk', status: 'requested' };
    for (const parse of [parseArchivalRequest, parseArchivalConfirmation]) {
      const result = parse(JSON.stringify(legacy));
      expect(result.ok).toBe(false);
      if (!result.ok)
        expect(result.error.message).toBe(
          'EVENT_INVALID: (root): not an event of this contract (no schema_version, no event_id; its fields: table_name, chunk_name, status): another producer, such as the earlier archiver? see docs/migration.md',
        );
    }
  });

  it('refuses a database name that looks like a connection string and identifiers with control characters', () => {
    expect(fieldsOf(parseArchivalRequest(requestEvent({}, { database: 'postgres://u:p@h/db' })))).toEqual([
      'data.database',
    ]);
    expect(fieldsOf(parseArchivalRequest(requestEvent({}, { chunk_name: 'a\u0000b' })))).toEqual([
      'data.chunk_name',
    ]);
    expect(fieldsOf(parseArchivalRequest(requestEvent({}, { table_name: 'x'.repeat(64) })))).toEqual([
      'data.table_name',
    ]);
  });

  it('refuses oversized payloads before parsing them', () => {
    const big = JSON.stringify(requestEvent({ producer: 'p'.repeat(MAX_EVENT_BYTES) }));
    const result = parseArchivalRequest(big);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('EVENT_TOO_LARGE');
    const asObject = parseArchivalRequest(requestEvent({ producer: 'p'.repeat(MAX_EVENT_BYTES) }));
    expect(asObject.ok).toBe(false);
  });

  it('refuses text that is not JSON', () => {
    const result = parseArchivalRequest('{not json');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('EVENT_NOT_JSON');
  });

  it('builds requests that parse back', () => {
    const event = buildArchivalRequest(requestData(), { producer: 'test' });
    expect(parseArchivalRequest(JSON.parse(JSON.stringify(event))).ok).toBe(true);
  });
});
