// What the archival-service offers other packages and the cross-service tests: its composition
// root and configuration. Everything else is internal.
export { type ArchiveResult, type ArchiveSettings, archiveChunk } from './archive-chunk.js';
export { checkChunk } from './catalog-check.js';
export { type ArchivalConfig, archivalConfigSchema, loadArchivalConfig } from './config.js';
export { type ArchivalService, type ArchivalServiceDeps, createArchivalService } from './service.js';
