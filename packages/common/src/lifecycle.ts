/**
 * start/stop with the guards pg-boss and BullMQ give theirs: concurrent start() calls share one
 * attempt; a start that failed can be tried again; stop() runs once, and a second caller awaits
 * the same stop. The stop steps run whatever did or did not start, so they must tolerate both.
 */
export function createLifecycle(steps: { start(): Promise<void>; stop(): Promise<void> }) {
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    start(): Promise<void> {
      if (stopping) return Promise.reject(new Error('stopped; create a new instance to start again'));
      starting ??= steps.start().catch((error: unknown) => {
        starting = undefined;
        throw error;
      });
      return starting;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        await starting?.catch(() => undefined);
        await steps.stop();
      })();
      return stopping;
    },
  };
}
