/** Leader-only TTL garbage collection of Observations. See README.md. */
export {
  expiresAt,
  type GcApi,
  type GcLog,
  type GcLoopOptions,
  type GcMetrics,
  type GcObject,
  type GcOptions,
  type GcResult,
  type GcStop,
  OBSERVATIONS,
  runGc,
  startGcLoop,
} from './collector.ts';
export { RateLimiter } from './rate-limiter.ts';
