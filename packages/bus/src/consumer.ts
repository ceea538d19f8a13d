import { coerceError, type Logger, sleep } from '@chunk-archiver/common';
import type { RedisClient } from './connection.js';
import type { Endpoint } from './endpoint.js';
import { PoisonMessageError } from './errors.js';
import { type EndpointSet, runOn as on } from './failover.js';
import { entryField, type StreamEntry } from './stream-entry.js';
import type { ConsumeOptions, Handler, Subscription } from './types.js';

interface ConsumerDeps<T> {
  streamKey: string;
  topic: string;
  group: string;
  consumer: string;
  handler: Handler<T>;
  options: ConsumeOptions<T>;
  endpoints: EndpointSet;
  logger: Logger;
  /** Moves an entry of `endpoint`'s stream to its dead-letter stream. */
  deadLetter: (endpoint: Endpoint, entry: StreamEntry, reason: string, deliveries: number) => Promise<void>;
}

interface Attachment {
  endpoint: Endpoint;
  reader: RedisClient;
  /** Aborted when the consumer lets go of this reader (a switch, close). */
  detached: AbortController;
}

/** Settles like `work`, or rejects as soon as `signal` aborts; leaves no listener behind. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The abandoned read still settles (rejected by the disconnect): it must not go unhandled.
    work.catch(() => undefined);
    return Promise.reject(new Error('reader detached'));
  }
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('reader detached'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

const isNoGroup = (error: unknown) => coerceError(error).message.includes('NOGROUP');

/**
 * One consumer in a group: reads new entries, takes over entries abandoned by dead consumers,
 * acks only after the handler succeeded, and dead-letters what can never succeed. It follows the
 * active Redis endpoint: after a switch it ensures its group there and reads from there, while
 * messages already running are acked on the endpoint they came from.
 */
export async function startConsumer<T>(deps: ConsumerDeps<T>): Promise<Subscription> {
  const { streamKey, group, consumer, endpoints, logger } = deps;
  const concurrency = deps.options.concurrency ?? 1;
  const visibilityMs = deps.options.visibilityTimeoutMs ?? 60_000;
  const maxDeliveries = deps.options.maxDeliveries ?? 5;
  const blockMs = deps.options.blockMs ?? 2_000;
  const claimEveryMs = deps.options.claimIntervalMs ?? Math.max(1_000, Math.floor(visibilityMs / 2));
  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let lastClaim = 0;
  let attached: Attachment | undefined;

  async function ensureGroup(endpoint: Endpoint): Promise<void> {
    try {
      // From the beginning of the stream: requests published before any worker existed still count.
      await on(endpoints, endpoint, (c) => c.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM'));
    } catch (error) {
      if (!coerceError(error).message.includes('BUSYGROUP')) throw error;
    }
  }

  /** Lets go of the reader and wakes a read blocked on it. */
  function detach(): void {
    const old = attached;
    attached = undefined;
    old?.detached.abort();
    old?.reader.disconnect();
  }

  /** The active endpoint's reader, its group ensured; a new one after a switch. */
  async function attach(): Promise<Attachment> {
    const endpoint = endpoints.active();
    if (attached?.endpoint === endpoint) return attached;
    detach();
    await ensureGroup(endpoint);
    attached = { endpoint, reader: endpoints.reader(endpoint), detached: new AbortController() };
    // Whatever the old endpoint held for this group may be gone: look for abandoned entries now.
    lastClaim = 0;
    logger.info({ endpoint: endpoint.name }, 'consumer reading from redis endpoint');
    return attached;
  }

  // A blocked XREADGROUP on a dead endpoint would wait for it forever: interrupt it.
  let switches = 0;
  const unsubscribe = endpoints.onSwitch(() => {
    switches++;
    detach();
  });

  async function deliveriesOf(endpoint: Endpoint, id: string): Promise<number> {
    const rows = (await on(endpoints, endpoint, (c) => c.xpending(streamKey, group, id, id, 1))) as Array<
      [string, string, number, number]
    >;
    return rows[0]?.[3] ?? 1;
  }

  /** Keeps a long-running message ours: XCLAIM by the owner resets its idle time. */
  function heartbeat(endpoint: Endpoint, id: string): () => void {
    const timer = setInterval(
      () => {
        on(endpoints, endpoint, (c) => c.xclaim(streamKey, group, consumer, 0, id, 'JUSTID')).catch(
          (error: unknown) => {
            logger.warn({ err: coerceError(error), id }, 'heartbeat failed; the message may be taken over');
          },
        );
      },
      Math.max(250, Math.floor(visibilityMs / 3)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  async function handle(endpoint: Endpoint, entry: StreamEntry, deliveries: number): Promise<void> {
    const [id, fields] = entry;
    const log = logger.child({ message_id: id, deliveries });
    const deadLetter = (reason: string) => deps.deadLetter(endpoint, entry, reason, deliveries);
    try {
      if (deliveries > maxDeliveries) {
        await deadLetter(`delivered ${deliveries} times (limit ${maxDeliveries})`);
        return;
      }
      const raw = entryField(fields, 'payload');
      if (raw === undefined) {
        await deadLetter('entry has no payload field');
        return;
      }
      const parsed = deps.options.parse(raw);
      if (!parsed.ok) {
        await deadLetter(`invalid: ${parsed.error.message}`);
        return;
      }
      const stop = heartbeat(endpoint, id);
      try {
        await deps.handler(parsed.value, { id, topic: deps.topic, deliveries });
      } finally {
        stop();
      }
      await on(endpoints, endpoint, (c) => c.xack(streamKey, group, id));
    } catch (error) {
      const err = coerceError(error);
      if (err instanceof PoisonMessageError) {
        await deadLetter(err.message).catch((e: unknown) => {
          log.error({ err: coerceError(e) }, 'dead-lettering failed; the message stays pending');
        });
        return;
      }
      // Not acked: it stays pending and is redelivered after the visibility timeout.
      log.warn({ err }, 'handler failed; message will be redelivered');
    }
  }

  function run(endpoint: Endpoint, entry: StreamEntry, deliveries: number): void {
    const task = handle(endpoint, entry, deliveries).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }

  async function waitForSlot(): Promise<void> {
    while (inFlight.size >= concurrency && !abort.signal.aborted) await Promise.race(inFlight);
  }

  async function claimAbandoned(endpoint: Endpoint): Promise<void> {
    let cursor = '0-0';
    do {
      const free = concurrency - inFlight.size;
      if (free <= 0) return;
      const from = cursor;
      const reply = (await on(endpoints, endpoint, (c) =>
        c.xautoclaim(streamKey, group, consumer, visibilityMs, from, 'COUNT', free),
      )) as [string, StreamEntry[], string[]?];
      cursor = reply[0];
      for (const entry of reply[1]) {
        if (!entry || !Array.isArray(entry[1])) continue;
        // XAUTOCLAIM increments the delivery counter, so the count includes this delivery.
        run(endpoint, entry, await deliveriesOf(endpoint, entry[0]));
      }
    } while (cursor !== '0-0' && !abort.signal.aborted);
  }

  async function readNew({ endpoint, reader, detached }: Attachment): Promise<void> {
    const count = concurrency - inFlight.size;
    if (count <= 0 || detached.signal.aborted) return;
    const reading = reader.xreadgroup(
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
    ) as Promise<Array<[string, StreamEntry[]]> | null>;
    // A client disconnected while it was reconnecting never settles what it had queued, so a
    // read on a dead endpoint is abandoned rather than awaited.
    const reply = await unlessAborted(reading, detached.signal);
    for (const [, entries] of reply ?? []) for (const entry of entries) run(endpoint, entry, 1);
  }

  async function step(): Promise<void> {
    await waitForSlot();
    if (abort.signal.aborted) return;
    const attachment = await attach();
    if (Date.now() - lastClaim >= claimEveryMs) {
      lastClaim = Date.now();
      await claimAbandoned(attachment.endpoint);
    }
    await readNew(attachment);
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (!abort.signal.aborted) {
      const seen = switches;
      try {
        await step();
        failures = 0;
      } catch (error) {
        if (abort.signal.aborted) break;
        // Interrupted by a switch: read from the new endpoint at once.
        if (seen !== switches) continue;
        failures++;
        // A Redis that restarted without persistence has lost the group: make it again.
        if (isNoGroup(error) && attached) await ensureGroup(attached.endpoint).catch(() => undefined);
        else logger.warn({ err: coerceError(error), failures }, 'consumer loop error; backing off');
        await sleep(Math.min(100 * 2 ** Math.min(failures, 6), 5_000), abort.signal);
      }
    }
  }

  // Redis may be away at start: the loop keeps trying, so a consumer never fails to start.
  await attach().catch((error: unknown) => {
    logger.warn({ err: coerceError(error) }, 'redis not reachable yet; the consumer will keep trying');
  });
  const looping = loop();
  let closing: Promise<void> | undefined;

  return {
    close() {
      closing ??= (async () => {
        abort.abort();
        unsubscribe();
        // Interrupts a blocking XREADGROUP at once; nothing was read that is not already running.
        detach();
        await looping;
        await Promise.allSettled([...inFlight]);
      })();
      return closing;
    },
  };
}
