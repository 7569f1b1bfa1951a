/** Leader election on a coordination.k8s.io/v1 Lease. See README.md for the guarantees (and non-guarantees). */
export { type Clock, systemClock } from './clock.ts';
export {
  JITTER_FACTOR,
  LEADER_ELECTION_DEFAULTS,
  LeaderConfigError,
  type LeaderElector,
  type LeaderElectorConfig,
  type LeaderLog,
  LeaderStopDeadlineError,
  type LeaderTermInfo,
} from './config.ts';
export { createLeaderElector } from './elector.ts';
export { type LeaderHealthInput, leaderHealth } from './health.ts';
export {
  LEADER_ELECTION_USER_AGENT,
  LeaseLock,
  type LeaseLockOptions,
  leaseRequestTimeoutMs,
  leaseSpecToRecord,
  rawRecord,
  recordToLeaseSpec,
} from './lease-lock.ts';
export { type LeaderLock, LeaderLockError, type LeaderRecord } from './lock.ts';
export { type LeaderMetrics, noLeaderMetrics } from './metrics.ts';
