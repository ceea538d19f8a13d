import type { Bus, DeadLetter, PayloadParser } from '@chunk-archiver/bus';
import { parseArchivalConfirmation, parseArchivalRequest, TOPICS, type Topic } from '@chunk-archiver/events';
import { OperatorError } from '../errors.js';

/** How much of a payload a listing shows; `show` gives all that was kept. */
const PREVIEW_CHARS = 300;

export interface DeadLetterView {
  topic: Topic;
  id: string;
  reason: string;
  group: string;
  deliveries: number;
  source_id: string;
  payload_bytes: number;
  payload_sha256: string;
  truncated: boolean;
  payload: string;
}

function view(topic: Topic, letter: DeadLetter, preview: boolean): DeadLetterView {
  return {
    topic,
    id: letter.id,
    reason: letter.reason,
    group: letter.group,
    deliveries: letter.deliveries,
    source_id: letter.sourceId,
    payload_bytes: letter.payloadBytes,
    payload_sha256: letter.payloadSha256,
    truncated: letter.truncated,
    payload:
      preview && letter.payload.length > PREVIEW_CHARS
        ? `${letter.payload.slice(0, PREVIEW_CHARS)}…`
        : letter.payload,
  };
}

export const DEAD_LETTER_TOPICS: Topic[] = [TOPICS.archivalRequest, TOPICS.archivalConfirmation];

function topicOf(name: string): Topic {
  const topic = DEAD_LETTER_TOPICS.find((t) => t === name);
  if (!topic)
    throw new OperatorError(
      'UNKNOWN_TOPIC',
      `no topic ${name}; one of ${DEAD_LETTER_TOPICS.join(', ')}`,
      'topic',
    );
  return topic;
}

/**
 * The `.dead` streams, for people: list, show, replay (the payload validated again as the
 * consumer would, signature included) and purge.
 */
export function createDeadLetters(bus: Bus, secret: string | undefined) {
  const parsers: Record<Topic, PayloadParser<unknown>> = {
    [TOPICS.archivalRequest]: (raw) => parseArchivalRequest(raw, { secret }),
    [TOPICS.archivalConfirmation]: (raw) => parseArchivalConfirmation(raw, { secret }),
  };

  async function find(topicName: string, id: string): Promise<{ topic: Topic; letter: DeadLetter }> {
    const topic = topicOf(topicName);
    const letter = await bus.deadLetter(topic, id);
    if (!letter) throw new OperatorError('UNKNOWN_DEAD_LETTER', `${topic} has no dead letter ${id}`, 'id');
    return { topic, letter };
  }

  return {
    async list(
      topicName?: string,
      limit = 100,
    ): Promise<{ counts: Record<string, number>; dead_letters: DeadLetterView[] }> {
      const topics = topicName === undefined ? DEAD_LETTER_TOPICS : [topicOf(topicName)];
      const counts: Record<string, number> = {};
      const dead_letters: DeadLetterView[] = [];
      for (const topic of topics) {
        counts[topic] = await bus.deadLetterCount(topic);
        for (const letter of await bus.deadLetters(topic, limit))
          dead_letters.push(view(topic, letter, true));
      }
      return { counts, dead_letters };
    },
    async show(topicName: string, id: string): Promise<DeadLetterView> {
      const { topic, letter } = await find(topicName, id);
      return view(topic, letter, false);
    },
    async replay(topicName: string, id: string): Promise<{ topic: Topic; id: string; replayed_as: string }> {
      const { topic } = await find(topicName, id);
      const result = await bus.replayDeadLetter(topic, id, parsers[topic]);
      if (!result) throw new OperatorError('UNKNOWN_DEAD_LETTER', `${topic} has no dead letter ${id}`, 'id');
      if (!result.ok)
        throw new OperatorError(
          'NOT_REPLAYABLE',
          `dead letter ${id} was not replayed: ${result.reason}`,
          'id',
        );
      return { topic, id, replayed_as: result.newId };
    },
    async purge(topicName: string, id?: string): Promise<{ topic: Topic; purged: number }> {
      if (id !== undefined) await find(topicName, id);
      const topic = topicOf(topicName);
      return { topic, purged: await bus.purgeDeadLetters(topic, id === undefined ? undefined : [id]) };
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
