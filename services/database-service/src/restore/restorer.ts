import type { Logger } from '@chunk-archiver/common';
import type { BlobStore } from '@chunk-archiver/storage';
import { RestoreError } from '../errors.js';
import type { ManagedDatabase } from '../managed-database.js';
import { type ReleaseReport, releaseRestore } from './release.js';
import { type RestoreReport, type RestoreRequest, restoreRange } from './restore.js';

export interface RestorerDeps {
  databases: ReadonlyMap<string, ManagedDatabase>;
  store: BlobStore;
  prefix: string;
  logger: Logger;
  tmpDir?: string;
}

/** Restore and release for the configured databases, shared by the CLI and the HTTP route. */
export function createRestorer(deps: RestorerDeps) {
  function database(name: string | undefined): ManagedDatabase {
    if (name === undefined) {
      if (deps.databases.size === 1) return [...deps.databases.values()][0]!;
      throw new RestoreError(
        'DATABASE_REQUIRED',
        `database: required, several are configured (${[...deps.databases.keys()].join(', ')})`,
        { field: 'database' },
      );
    }
    const db = deps.databases.get(name);
    if (!db) {
      throw new RestoreError(
        'UNKNOWN_DATABASE',
        `database: "${name}" is not configured (configured: ${[...deps.databases.keys()].join(', ')})`,
        {
          field: 'database',
        },
      );
    }
    return db;
  }
  return {
    restore(request: RestoreRequest & { database?: string | undefined }): Promise<RestoreReport> {
      return restoreRange(
        {
          db: database(request.database),
          store: deps.store,
          prefix: deps.prefix,
          logger: deps.logger,
          tmpDir: deps.tmpDir,
        },
        request,
      );
    },
    release(input: { database?: string | undefined; id: string }): Promise<ReleaseReport> {
      return releaseRestore(database(input.database), input.id);
    },
  };
}

export type Restorer = ReturnType<typeof createRestorer>;
