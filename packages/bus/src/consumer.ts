import { coerceError, type Logger, sleep } from '@chunk-archiver/common';
import type { RedisClient } from './connection.js';
import { PoisonMessageError } from './errors.js';
import { entryField, type StreamEntry } from './stream-entry.js';
import type { ConsumeOptions, Handler, Subscription } from './types.js';

interface ConsumerDeps<T> {
  streamKey: string;
  topic: string;
  group: string;
  consumer: string;
  handler: Handler<T>;
  options: ConsumeOptions<T>;
  reader: RedisClient;
  commands: RedisClient;
  logger: Logger;
  deadLetter: (entry: StreamEntry, reason: string, deliveries: number) => Promise<void>;
}

const isNoGroup = (error: unknown) => coerceError(error).message.includes('NOGROUP');

/**
 * One consumer in a group: reads new entries, takes over entries abandoned by dead consumers,
 * acks only after the handler succeeded, and dead-letters what can never succeed.
 */
export async function startConsumer<T>(deps: ConsumerDeps<T>): Promise<Subscription> {
  const { streamKey, group, consumer, reader, commands, logger } = deps;
  const concurrency = deps.options.concurrency ?? 1;
  const visibilityMs = deps.options.visibilityTimeoutMs ?? 60_000;
  const maxDeliveries = deps.options.maxDeliveries ?? 5;
  const blockMs = deps.options.blockMs ?? 2_000;
  const claimEveryMs = deps.options.claimIntervalMs ?? Math.max(1_000, Math.floor(visibilityMs / 2));
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let lastClaim = 0;

  async function ensureGroup(): Promise<void> {
    try {
      // From the beginning of the stream: requests published before any worker existed still count.
      await commands.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!coerceError(error).message.includes('BUSYGROUP')) throw error;
    }
  }

  async function deliveriesOf(id: string): Promise<number> {
    const rows = (await commands.xpending(streamKey, group, id, id, 1)) as Array<
      [string, string, number, number]
    >;
    return rows[0]?.[3] ?? 1;
  }

  /** Keeps a long-running message ours: XCLAIM by the owner resets its idle time. */
  function heartbeat(id: string): () => void {
    const timer = setInterval(
      () => {
        commands.xclaim(streamKey, group, consumer, 0, id, 'JUSTID').catch((error: unknown) => {
          logger.warn({ err: coerceError(error), id }, 'heartbeat failed; the message may be taken over');
        });
      },
      Math.max(250, Math.floor(visibilityMs / 3)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  async function handle(entry: StreamEntry, deliveries: number): Promise<void> {
    const [id, fields] = entry;
    const log = logger.child({ message_id: id, deliveries });
    try {
      if (deliveries > maxDeliveries) {
        await deps.deadLetter(entry, `delivered ${deliveries} times (limit ${maxDeliveries})`, deliveries);
        return;
      }
      const raw = entryField(fields, 'payload');
      if (raw === undefined) {
        await deps.deadLetter(entry, 'entry has no payload field', deliveries);
        return;
      }
      const parsed = deps.options.parse(raw);
      if (!parsed.ok) {
        await deps.deadLetter(entry, `invalid: ${parsed.error.message}`, deliveries);
        return;
      }
      const stop = heartbeat(id);
      try {
        await deps.handler(parsed.value, { id, topic: deps.topic, deliveries });
      } finally {
        stop();
      }
      await commands.xack(streamKey, group, id);
    } catch (error) {
      const err = coerceError(error);
      if (err instanceof PoisonMessageError) {
        await deps.deadLetter(entry, err.message, deliveries).catch((e: unknown) => {
          log.error({ err: coerceError(e) }, 'dead-lettering failed; the message stays pending');
        });
        return;
      }
      // Not acked: it stays pending and is redelivered after the visibility timeout.
      log.warn({ err }, 'handler failed; message will be redelivered');
    }
  }

  function run(entry: StreamEntry, deliveries: number): void {
    const task = handle(entry, deliveries).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }

  async function waitForSlot(): Promise<void> {
    while (inFlight.size >= concurrency && !abort.signal.aborted) await Promise.race(inFlight);
  }

  async function claimAbandoned(): Promise<void> {
    let cursor = '0-0';
    do {
      const free = concurrency - inFlight.size;
      if (free <= 0) return;
      const reply = (await commands.xautoclaim(
        streamKey,
        group,
        consumer,
        visibilityMs,
        cursor,
        'COUNT',
        free,
      )) as [string, StreamEntry[], string[]?];
      cursor = reply[0];
      for (const entry of reply[1]) {
        if (!entry || !Array.isArray(entry[1])) continue;
        // XAUTOCLAIM increments the delivery counter, so the count includes this delivery.
        run(entry, await deliveriesOf(entry[0]));
      }
    } while (cursor !== '0-0' && !abort.signal.aborted);
  }

  async function readNew(): Promise<void> {
    const count = concurrency - inFlight.size;
    if (count <= 0) return;
    const reply = (await reader.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      streamKey,
      '>',
    )) as Array<[string, StreamEntry[]]> | null;
    for (const [, entries] of reply ?? []) for (const entry of entries) run(entry, 1);
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        await waitForSlot();
        if (abort.signal.aborted) break;
        if (Date.now() - lastClaim >= claimEveryMs) {
          lastClaim = Date.now();
          await claimAbandoned();
        }
        await readNew();
        failures = 0;
      } catch (error) {
        if (abort.signal.aborted) break;
        failures++;
        // A Redis that restarted without persistence has lost the group: make it again.
        if (isNoGroup(error)) await ensureGroup().catch(() => undefined);
        else logger.warn({ err: coerceError(error), failures }, 'consumer loop error; backing off');
        await sleep(Math.min(100 * 2 ** Math.min(failures, 6), 5_000), abort.signal);
      }
    }
  }

  await ensureGroup();
  const looping = loop();
  let closing: Promise<void> | undefined;

  return {
    close() {
      closing ??= (async () => {
        abort.abort();
        // Interrupts a blocking XREADGROUP at once; nothing was read that is not already running.
        reader.disconnect();
        await looping;
        await Promise.allSettled([...inFlight]);
      })();
      return closing;
    },
  };
}
