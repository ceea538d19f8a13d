import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';

describe('logger', () => {
  it('never writes passwords, connection strings, tokens or keys', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ name: 't', pretty: false, destination: sink });
    logger.info(
      {
        password: 'pw-1',
        config: {
          url: 'postgres://u:pw-2@h/db',
          password: 'pw-3',
          storage: { connectionString: 'AccountKey=pw-4' },
        },
        token: 'pw-5',
        req: { headers: { authorization: 'Bearer pw-6' } },
        s3: { secretAccessKey: 'pw-7', accountKey: 'pw-8' },
      },
      'config loaded',
    );
    expect(out).toContain('config loaded');
    expect(out).toContain('[redacted]');
    expect(out).not.toMatch(/pw-\d/);
  });
});
