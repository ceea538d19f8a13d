import type { Bus, Subscription } from '@chunk-archiver/bus';
import { coerceError, type Logger } from '@chunk-archiver/common';
import { type ArchivalRequest, parseArchivalRequest, TOPICS } from '@chunk-archiver/events';

export const CONSUMER_GROUP = 'archival-service';

export interface WorkerOptions {
  bus: Bus;
  handler: (event: ArchivalRequest) => Promise<void>;
  consumer: string;
  concurrency: number;
  visibilityTimeoutMs: number;
  maxDeliveries: number;
  secret?: string | undefined;
  graceMs: number;
  /** Called when in-flight work outlives the grace period: abort it (its requests stay pending). */
  onGraceExpired: () => Promise<void> | void;
  logger: Logger;
}

/**
 * Consumes archival requests in the shared consumer group. stop() stops taking work, lets
 * in-flight chunks finish within the grace period, then aborts what is left; unacked requests
 * are reclaimed by another replica.
 */
export function createArchivalWorker(options: WorkerOptions) {
  let subscription: Subscription | undefined;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  return {
    start(): Promise<void> {
      starting ??= (async () => {
        subscription = await options.bus.consume(
          TOPICS.archivalRequest,
          CONSUMER_GROUP,
          options.consumer,
          options.handler,
          {
            parse: (raw) => parseArchivalRequest(raw, { secret: options.secret }),
            concurrency: options.concurrency,
            visibilityTimeoutMs: options.visibilityTimeoutMs,
            maxDeliveries: options.maxDeliveries,
          },
        );
        options.logger.info(
          { consumer: options.consumer, concurrency: options.concurrency },
          'consuming archival requests',
        );
      })();
      return starting;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        await starting?.catch(() => undefined);
        if (!subscription) return;
        const closing = subscription.close();
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<'expired'>((resolve) => {
          timer = setTimeout(() => resolve('expired'), options.graceMs);
        });
        const outcome = await Promise.race([closing.then(() => 'done' as const), expired]);
        clearTimeout(timer);
        if (outcome === 'expired') {
          options.logger.warn(
            { grace_ms: options.graceMs },
            'grace period over; aborting in-flight archives (they will be redelivered)',
          );
          try {
            await options.onGraceExpired();
          } catch (error) {
            options.logger.warn({ err: coerceError(error) }, 'aborting in-flight work failed');
          }
          await closing;
        }
      })();
      return stopping;
    },
  };
}
