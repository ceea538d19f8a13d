import { describe, expect, it } from 'vitest';
import { createLifecycle } from '../src/index.js';

describe('createLifecycle', () => {
  it('shares one start, retries a failed one, stops once for every caller', async () => {
    let starts = 0;
    let stops = 0;
    let fail = true;
    const life = createLifecycle({
      async start() {
        starts++;
        await new Promise((r) => setTimeout(r, 10));
        if (fail) throw new Error('redis down');
      },
      async stop() {
        stops++;
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    await expect(Promise.all([life.start(), life.start()])).rejects.toThrow('redis down');
    expect(starts).toBe(1);
    fail = false;
    await life.start();
    await life.start();
    expect(starts).toBe(2);
    const first = life.stop();
    const second = life.stop();
    await Promise.all([first, second]);
    expect(stops).toBe(1);
    await expect(life.start()).rejects.toThrow('stopped');
  });
});
