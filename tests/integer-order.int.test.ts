import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';

describe('integer ranges in the ledger', () => {
  it('are requested, listed and reported oldest first by number, not by text', async () => {
    const root = await mkdtemp(join(tmpdir(), 'intorder-'));
    const db = await pgDatabase('intorder');
    const sql = postgres(db.url, { max: 4, onnotice: () => {} });
    let flow: Awaited<ReturnType<typeof retentionFlow>> | undefined;
    try {
      await sql`create table counters (seq bigint not null) partition by range (seq)`;
      // Twelve partitions: as text, '10000' and '11000' would sort before '2000'.
      for (let i = 0; i < 12; i++)
        await sql.unsafe(
          `create table counters_${i} partition of counters for values from (${i * 1000}) to (${(i + 1) * 1000})`,
        );
      await sql`insert into counters select g from generate_series(0, 11999) g`;
      flow = await retentionFlow({
        databases: {
          main: {
            sql,
            tables: [{ name: 'counters', kind: 'partition', retention_integer: 1000, chunks_per_scan: 3 }],
          },
        },
        store: createLocalBlobStore({ root, container: 'archive' }),
      });
      const [report] = await flow.manager.scanner.scanOnce({ database: 'main' });
      expect(report!.requested.map((r) => r.chunk)).toEqual([
        'public.counters_0',
        'public.counters_1',
        'public.counters_2',
      ]);
      const status = (await flow.app.inject('/database/retention/status')).json();
      expect(status.database_stats[0].tables[0].oldest_pending).toBe('3000');
      expect(status.database_stats[0].next_due.slice(0, 3).map((d: { chunk: string }) => d.chunk)).toEqual([
        'public.counters_3',
        'public.counters_4',
        'public.counters_5',
      ]);
    } finally {
      await flow?.stop();
      await sql.end({ timeout: 5 });
      await db.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });
});
