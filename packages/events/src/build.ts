import { randomUUID } from 'node:crypto';
import type { ArchivalConfirmation, ArchivalFailure, ArchivalSuccess } from './confirmation.js';
import type { ArchivalRequest } from './request.js';
import { signEvent } from './signing.js';
import { SCHEMA_VERSION, TOPICS } from './topics.js';

export interface BuildOptions {
  producer: string;
  secret?: string | undefined;
  eventId?: string;
  now?: Date;
}

function envelope(options: BuildOptions) {
  return {
    event_id: options.eventId ?? randomUUID(),
    schema_version: SCHEMA_VERSION as typeof SCHEMA_VERSION,
    occurred_at: (options.now ?? new Date()).toISOString(),
    producer: options.producer,
  };
}

function maybeSign<T extends Record<string, unknown>>(event: T, secret: string | undefined): T {
  return secret ? signEvent(event, secret) : event;
}

export function buildArchivalRequest(data: ArchivalRequest['data'], options: BuildOptions): ArchivalRequest {
  return maybeSign({ ...envelope(options), event_type: TOPICS.archivalRequest, data }, options.secret);
}

export function buildArchivalConfirmation(
  data: ArchivalSuccess['data'] | ArchivalFailure['data'],
  options: BuildOptions,
): ArchivalConfirmation {
  return maybeSign(
    { ...envelope(options), event_type: TOPICS.archivalConfirmation, data },
    options.secret,
  ) as ArchivalConfirmation;
}
