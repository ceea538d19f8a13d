export { type HealthOptions, healthPlugin } from './health.js';
