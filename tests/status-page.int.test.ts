import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalBlobStore } from '@chunk-archiver/storage';
import { pgDatabase } from '@chunk-archiver/testkit';
import { type Browser, chromium } from 'playwright-core';
import postgres from 'postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { retentionFlow } from './flow.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the screenshot lands (git-ignored), for a person to look at. */
const ARTIFACTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const TOKEN = 'page-token-7d1e';

describe('status page in a real headless Chromium', () => {
  let db: Awaited<ReturnType<typeof pgDatabase>>;
  let sql: postgres.Sql;
  let root: string;
  let flow: Awaited<ReturnType<typeof retentionFlow>> | undefined;
  let browser: Browser | undefined;

  beforeEach(async () => {
    db = await pgDatabase('page');
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    await sql`create table events (id bigint not null, at timestamptz not null) partition by range (at)`;
    await sql`create table events_2020_01 partition of events for values from ('2020-01-01') to ('2020-02-01')`;
    await sql`insert into events select g, '2020-01-01'::timestamptz + g * interval '1 minute' from generate_series(1, 500) g`;
    root = await mkdtemp(join(tmpdir(), 'page-'));
  });
  afterEach(async () => {
    await browser?.close();
    await flow?.stop();
    await sql.end({ timeout: 5 });
    await db.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('loads, shows a failed chunk with its reason, and its Retry (token asked for) re-queues it', async () => {
    expect(existsSync(CHROMIUM), `Debian's chromium at ${CHROMIUM} (./dev test installs it)`).toBe(true);
    const store = createLocalBlobStore({ root, container: 'archive' });
    await store.ensureContainer();
    // The worker refuses the table: the chunk dies on its one attempt, with the reason.
    flow = await retentionFlow({
      databases: {
        main: {
          sql,
          tables: [{ schema: 'public', name: 'events', kind: 'partition' }],
          allowedTables: ['public.other'],
        },
      },
      store,
      defaults: { max_attempts: 1 },
      apiToken: TOKEN,
    });
    await flow.worker.start();
    await flow.manager.start();
    await flow.waitFor(async () => (await flow!.ledger('main'))[0]?.state === 'dead', 'the chunk dead');
    const [chunk] = await flow.ledger('main');
    const address = await flow.app.listen({ host: '127.0.0.1', port: 0 });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${address}/`);
    const failure = page.locator(`tr[data-failure="${chunk!.id}"]`);
    await failure.waitFor({ timeout: 10_000 });
    await expect.poll(() => failure.textContent()).toContain('public.events_2020_01');
    expect(await failure.textContent()).toContain('TABLE_NOT_ALLOWED');
    // Columns: table, kind, then pending, requested, archived, dropped, failed, dead.
    const cells = page.locator('tr[data-table="public.events"] td');
    expect(await cells.nth(7).textContent()).toBe('1');
    expect(await cells.nth(2).textContent()).toBe('0');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });

    // The service wants its token: the page asks for it, then retries with it.
    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept(TOKEN);
    });
    await page.locator(`button[data-retry="${chunk!.id}"]`).click();
    await expect
      .poll(() => page.locator('#banner').textContent(), { timeout: 10_000 })
      .toContain('re-queued');
    expect(asked).toEqual(['This service needs its API token to retry chunks:']);
    const [event] = await sql<{ detail: string }[]>`
      select detail from archiver.chunk_events where chunk_id = ${chunk!.id} and to_state = 'pending'`;
    expect(event!.detail).toBe('retry requested: retried from the status page');
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-after-retry.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);
});
