import { Counter, Gauge, type Registry } from 'prom-client';
import type { RedisHealth } from './failover.js';

/**
 * The bus's Redis endpoints as Prometheus series, read from its health at scrape time: which
 * endpoint is active, each one's health and circuit, and the failovers and fall-backs so far.
 */
export function registerRedisMetrics(registry: Registry, health: () => RedisHealth): void {
  new Gauge({
    name: 'redis_endpoint_active',
    help: 'The Redis endpoint commands go to (1), per endpoint',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of health().endpoints) this.set({ endpoint: e.name }, e.active ? 1 : 0);
    },
  });
  new Gauge({
    name: 'redis_endpoint_healthy',
    help: 'Whether the last health round found the endpoint healthy (1) or not (0)',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of health().endpoints) this.set({ endpoint: e.name }, e.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'redis_endpoint_circuit',
    help: "The endpoint's circuit breaker: 1 for its current state (closed, half_open, open)",
    labelNames: ['endpoint', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of health().endpoints)
        for (const state of ['closed', 'half_open', 'open'])
          this.set({ endpoint: e.name, state }, e.circuit === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'redis_endpoint_switches_total',
    help: 'Switches of the active Redis endpoint, by reason (failover, fallback)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const h = health();
      this.reset();
      this.inc({ reason: 'failover' }, h.failovers);
      this.inc({ reason: 'fallback' }, h.fallbacks);
    },
  });
}
