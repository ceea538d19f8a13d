import { ArchiverError } from '@chunk-archiver/common';

/** Thrown by a handler for a message that can never succeed: it goes to dead-letter at once. */
export class PoisonMessageError extends ArchiverError {
  override name = 'PoisonMessageError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('POISON_MESSAGE', message, options);
  }
}

export class BusClosedError extends ArchiverError {
  override name = 'BusClosedError';
  constructor() {
    super('BUS_CLOSED', 'the bus is closed');
  }
}

/** No Redis endpoint is healthy: the message names each one and what is wrong with it. */
export class RedisUnavailableError extends ArchiverError {
  override name = 'RedisUnavailableError';
  constructor(message: string) {
    super('REDIS_UNAVAILABLE', message, { retryable: true });
  }
}
