import { fileURLToPath } from 'node:url';
import { loadArchivalConfig } from '@chunk-archiver/archival-service';
import { describe, expect, it } from 'vitest';
import { loadRetentionConfig } from '../src/config.js';

const example = (name: string) => fileURLToPath(new URL(`../../../config/${name}`, import.meta.url));

describe('example configuration files', () => {
  it('validate against both services’ schemas', () => {
    const retention = loadRetentionConfig({}, example('database-service.example.yaml'));
    expect(Object.keys(retention.databases)).toEqual(['metrics', 'audit']);
    expect(retention.databases.metrics?.tables[0]).toMatchObject({
      name: 'conditions',
      kind: 'timescaledb',
      retention_days: 365,
    });
    const archival = loadArchivalConfig({ ARCHIVER_CONFIG: example('archival-service.example.yaml') });
    expect(Object.keys(archival.databases)).toEqual(['metrics', 'audit']);
    expect(archival.databases.metrics?.read_replica?.host).toBe('timescaledb-replica');
  });
});
