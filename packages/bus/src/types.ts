import type { RedisClient } from './connection.js';
import type { RedisHealth, SwitchListener } from './failover.js';

export interface MessageMeta {
  /** The Redis stream entry id. */
  id: string;
  topic: string;
  /** How many times this entry has been handed to a consumer, this time included. */
  deliveries: number;
}

export type Handler<T> = (event: T, meta: MessageMeta) => Promise<void>;

/** Validates a raw payload; a failure sends the message to dead-letter with the error's message. */
export type PayloadParser<T> = (raw: string) => { ok: true; value: T } | { ok: false; error: Error };

export interface ConsumeOptions<T> {
  parse: PayloadParser<T>;
  /** Handlers running at once in this consumer. */
  concurrency?: number;
  /** A message pending this long with its consumer silent is taken over by another one. */
  visibilityTimeoutMs?: number;
  /** Deliveries after which a message that keeps failing goes to dead-letter. */
  maxDeliveries?: number;
  /** How long one XREADGROUP blocks; bounds how quickly close() returns. */
  blockMs?: number;
  /** How often to look for messages abandoned by dead consumers. */
  claimIntervalMs?: number;
}

export interface Subscription {
  /** Stops reading, waits for handlers in flight, then releases the connection. Safe to call twice. */
  close(): Promise<void>;
}

export interface DeadLetter {
  id: string;
  /** The payload, or its first DEAD_LETTER_PAYLOAD_BYTES when `truncated`. */
  payload: string;
  payloadBytes: number;
  payloadSha256: string;
  truncated: boolean;
  reason: string;
  sourceId: string;
  group: string;
  deliveries: number;
}

export interface Bus {
  /** Appends the event to the topic's stream, then mirrors it on the pub/sub channel. */
  publish(topic: string, event: unknown): Promise<string>;
  consume<T>(
    topic: string,
    group: string,
    consumer: string,
    handler: Handler<T>,
    options: ConsumeOptions<T>,
  ): Promise<Subscription>;
  /** Reads the newest dead-lettered messages of a topic. */
  deadLetters(topic: string, count?: number): Promise<DeadLetter[]>;
  /** One dead letter of a topic by its id. */
  deadLetter(topic: string, id: string): Promise<DeadLetter | undefined>;
  /** How many dead letters the topic holds. */
  deadLetterCount(topic: string): Promise<number>;
  /**
   * Validates a dead letter again with `parse`; when it passes, publishes it to the topic and
   * removes it from dead-letter. Otherwise nothing changes and the reason comes back.
   */
  replayDeadLetter<T>(
    topic: string,
    id: string,
    parse: PayloadParser<T>,
  ): Promise<{ ok: true; newId: string } | { ok: false; reason: string } | undefined>;
  /** Removes the given dead letters (all of the topic's when `ids` is omitted); how many went. */
  purgeDeadLetters(topic: string, ids?: string[]): Promise<number>;
  /** Messages delivered to the group and not yet acknowledged. */
  pending(topic: string, group: string): Promise<number>;
  /** Resolves when the active Redis endpoint is healthy and answers; rejects naming each endpoint. */
  check(): Promise<void>;
  /** Every endpoint's health and circuit, which one is active, and the switches so far. */
  health(): RedisHealth;
  /** Called after every failover and fall-back; returns the way to stop listening. */
  onSwitch(listener: SwitchListener): () => void;
  /** The active endpoint's command connection, for what needs Redis itself (chunk locks). */
  redis(): RedisClient;
  close(): Promise<void>;
}
