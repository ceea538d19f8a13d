// What the database-service offers other packages and the cross-service tests: its composition
// root, configuration, HTTP app, the archive audit, and the ledger's row type. Everything else is
// internal.
export { type AppDeps, buildApp } from './app.js';
export { type AuditReport, auditArchive } from './audit/audit-archive.js';
export { loadRetentionConfig, type RetentionConfig, retentionConfigSchema } from './config.js';
export { RestoreError, UnknownTableError } from './errors.js';
export { ledgerIdentity } from './ledger/identity.js';
export type { ChunkState, LedgerChunk } from './ledger/types.js';
export type { RetentionManager } from './manager.js';
export { RESTORE_LOCK_CLASS } from './restore/restore.js';
export { createRetentionService, type RetentionService, type RetentionServiceDeps } from './service.js';
