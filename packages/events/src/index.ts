export { buildArchivalConfirmation, buildArchivalRequest, type BuildOptions } from './build.js';
export { canonicalJson } from './canonical.js';
export {
  type ArchivalConfirmation,
  type ArchivalConfirmationData,
  type ArchivalFailure,
  type ArchivalSuccess,
  archivalConfirmationSchema,
  type ManifestSummary,
  type ObjectLocation,
  type StorageBackendKind,
} from './confirmation.js';
export { type ChunkIdentity, type DimensionType, type SourceKind } from './fields.js';
export {
  EventValidationError,
  type EventErrorCode,
  type FieldIssue,
  parseArchivalConfirmation,
  parseArchivalRequest,
  type ParseOptions,
  type ParseResult,
} from './parse.js';
export { type ArchivalRequest, type ArchivalRequestData, archivalRequestSchema } from './request.js';
export { checkSignature, type SignatureCheck, signEvent } from './signing.js';
export { deadLetterTopic, MAX_EVENT_BYTES, SCHEMA_VERSION, TOPICS, type Topic } from './topics.js';
