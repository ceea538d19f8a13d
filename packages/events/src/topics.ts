export const TOPICS = {
  archivalRequest: 'database.archival.request',
  archivalConfirmation: 'database.archival.confirmation',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

/** Where messages go that can never be handled: `<topic>.dead`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dead`;
}

export const SCHEMA_VERSION = 1;

/** Events larger than this are refused before parsing: no legitimate event comes near it. */
export const MAX_EVENT_BYTES = 64 * 1024;
