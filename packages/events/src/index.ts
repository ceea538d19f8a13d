export { type BuildOptions, buildArchivalConfirmation, buildArchivalRequest } from './build.js';
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
export {
  type ChunkIdentity,
  type DimensionSlice,
  type DimensionType,
  databaseName,
  dimensionSlice,
  type SourceKind,
} from './fields.js';
export {
  type EventErrorCode,
  EventValidationError,
  type FieldIssue,
  type ParseOptions,
  type ParseResult,
  parseArchivalConfirmation,
  parseArchivalRequest,
} from './parse.js';
export { type ArchivalRequest, type ArchivalRequestData, archivalRequestSchema } from './request.js';
export { checkSignature, type SignatureCheck, signEvent } from './signing.js';
export { deadLetterTopic, MAX_EVENT_BYTES, SCHEMA_VERSION, TOPICS, type Topic } from './topics.js';
