/**
 * Leader election, the client-go algorithm (`tools/leaderelection/leaderelection.go`):
 * run → acquire → renew → (lost: end the term, acquire again | stopped: end the term, release).
 *
 * Only our own clock is trusted: a Lease record that changed since we last looked means "someone wrote", whatever
 * its renewTime says, and another holder's lease is valid while observedAt + leaseDuration > now. There is no
 * fencing; see README.md for what that means for leader-only writes.
 */

import { ZwError } from '../api/errors.ts';
import { errorText } from '../api/helpers.ts';
import { systemClock } from './clock.ts';
import {
  JITTER_FACTOR,
  LEADER_ELECTION_DEFAULTS,
  type LeaderElector,
  type LeaderElectorConfig,
  LeaderStopDeadlineError,
  type LeaderTermInfo,
  silentLog,
  type Timings,
  validate,
} from './config.ts';
import { leaderHealth } from './health.ts';
import { LeaderLockError, type LeaderRecord } from './lock.ts';
import { noLeaderMetrics } from './metrics.ts';

interface Term {
  controller: AbortController;
  info: LeaderTermInfo;
  /** onStartedLeading's outcome; awaited (bounded) when the term ends. */
  started: Promise<void>;
}

/** An acquire attempt scheduled at a lease's expiry runs this much later, so it sees the lease expired. */
const EXPIRY_MARGIN_MS = 5;

export function createLeaderElector(c: LeaderElectorConfig): LeaderElector {
  const timings: Timings = {
    leaseDurationMs: c.leaseDurationMs ?? LEADER_ELECTION_DEFAULTS.leaseDurationMs,
    renewDeadlineMs: c.renewDeadlineMs ?? LEADER_ELECTION_DEFAULTS.renewDeadlineMs,
    retryPeriodMs: c.retryPeriodMs ?? LEADER_ELECTION_DEFAULTS.retryPeriodMs,
  };
  validate({ ...c, ...timings });
  const lock = c.lock;
  const id = lock.identity;
  const lease = lock.describe();
  const clock = c.clock ?? systemClock;
  const metrics = c.metrics ?? noLeaderMetrics;
  const log = c.log ?? silentLog;
  const random = c.random ?? Math.random;
  const releaseOnCancel = c.releaseOnCancel ?? true;
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = timings;
  const leaseDurationSeconds = Math.floor(leaseDurationMs / 1000);

  // Internal bookkeeping, as in client-go's LeaderElector.
  let observedRecord: LeaderRecord | undefined;
  let observedRaw: string | undefined;
  let observedAt = 0; // our clock, when observedRecord last changed
  let reportedLeader = '';
  let lastRenew: number | undefined;
  /** The last attempt found another holder's lease valid (rather than failing on an error). */
  let heldByOther = false;
  /** Aborted by nudge() to cut an acquire wait short. */
  let nudges = new AbortController();
  let term: Term | undefined;
  let running = false;

  const setObservedRecord = (r: LeaderRecord): void => {
    observedRecord = r;
    observedAt = clock.now();
  };
  const observedHolderIsMe = (): boolean => observedRecord?.holderIdentity === id;
  const isLeaseValid = (now: number): boolean =>
    observedRecord !== undefined && observedAt + observedRecord.leaseDurationSeconds * 1000 > now;

  const maybeReportTransition = (): void => {
    const holder = observedRecord?.holderIdentity ?? '';
    if (holder === reportedLeader) return;
    const previous = reportedLeader;
    reportedLeader = holder;
    if (holder === '') {
      log.info({ lease, previous }, 'lease released; no leader');
      return;
    }
    log.info({ lease, leader: holder, previous: previous || undefined, self: holder === id }, `new leader: ${holder}`);
    try {
      c.callbacks.onNewLeader?.(holder);
    } catch (err) {
      log.error({ lease, err }, 'onNewLeader threw');
    }
  };

  /**
   * One attempt. Returns true if we hold the lease afterwards. Once `signal` aborts (deadline, stop) the attempt
   * was abandoned: it returns false and changes no state, whatever the lock call did.
   *
   * `lastRenew` is the moment the successful write was SENT (client-go takes the attempt's start; the read before
   * the write, on the slow path, may take a while on a busy process). It is still no later than the moment the API
   * server applied the write, so no earlier than when any follower observed it: the holder's renew deadline
   * (lastRenew + renewDeadline) still ends before any follower's expiry (its observation + leaseDuration).
   */
  async function tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    heldByOther = false;
    const now = clock.now();
    const desired: LeaderRecord = {
      holderIdentity: id,
      leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaderTransitions: 0,
    };

    // 1. Fast path: we hold the lease and our cached copy is still valid, so update without reading first.
    if (observedHolderIsMe() && isLeaseValid(now) && observedRecord) {
      desired.acquireTime = observedRecord.acquireTime;
      desired.leaderTransitions = observedRecord.leaderTransitions;
      try {
        const sentAt = clock.now();
        await lock.update(desired, signal);
        if (signal.aborted) return false;
        setObservedRecord(desired);
        lastRenew = sentAt;
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        log.debug({ lease, err: errorText(err) }, 'optimistic renewal failed; falling back to the slow path');
      }
    }

    // 2. Slow path: read the Lease; create it if it is absent.
    let current: { record: LeaderRecord; raw: string } | undefined;
    try {
      current = await lock.get(signal);
    } catch (err) {
      if (!signal.aborted) log.warn({ lease, err: errorText(err) }, 'cannot read the lease');
      return false;
    }
    if (signal.aborted) return false;
    if (current === undefined) {
      const sentAt = clock.now();
      try {
        await lock.create(desired, signal);
      } catch (err) {
        if (!signal.aborted) log.warn({ lease, err: errorText(err) }, 'cannot create the lease');
        return false;
      }
      if (signal.aborted) return false;
      setObservedRecord(desired);
      lastRenew = sentAt;
      return true;
    }

    // 3. Another holder's lease is still valid by OUR observedAt + duration: give up this round. Judged now, when
    // the read answered, not at the attempt's start: a read that straddles the expiry must not cost a whole
    // (jittered) retry period. Still safe: the lease has expired by our own clock before we write.
    if (current.raw !== observedRaw) {
      setObservedRecord(current.record);
      observedRaw = current.raw;
    }
    const holder = current.record.holderIdentity;
    const decidedAt = clock.now();
    if (holder !== '' && holder !== id && isLeaseValid(decidedAt)) {
      log.debug({ lease, leader: holder }, 'lease is held by another replica and has not expired');
      heldByOther = true;
      return false;
    }

    // 4. Write our record: keep acquireTime/transitions if we led, otherwise transitions + 1.
    const took = holder !== id;
    const gapStartedAt = observedAt; // when the previous holder's last write (renewal or release) reached us
    if (took) {
      desired.leaderTransitions = current.record.leaderTransitions + 1;
    } else {
      desired.acquireTime = current.record.acquireTime;
      desired.leaderTransitions = current.record.leaderTransitions;
      metrics.slowPath(lease);
    }
    const sentAt = clock.now();
    try {
      await lock.update(desired, signal);
    } catch (err) {
      if (!signal.aborted) log.warn({ lease, err: errorText(err) }, 'cannot update the lease');
      return false;
    }
    if (signal.aborted) return false;
    setObservedRecord(desired);
    lastRenew = sentAt;
    if (took) {
      metrics.transition(lease);
      metrics.failover?.(lease, Math.max(0, decidedAt - gapStartedAt) / 1000, holder === '' ? 'released' : 'expired');
    }
    return true;
  }

  /** Runs one attempt, abandoned at `deadline` (elector clock) or when `stop` aborts. */
  async function attempt(stop: AbortSignal, deadline: number): Promise<'ok' | 'failed' | 'deadline' | 'stopped'> {
    const ctl = new AbortController();
    const onStop = () => ctl.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    try {
      const timer = clock.sleep(deadline - clock.now(), ctl.signal).then(() => 'deadline' as const);
      const result = await Promise.race([tryAcquireOrRenew(ctl.signal).then((ok) => (ok ? 'ok' : 'failed')), timer]);
      if (stop.aborted) return 'stopped';
      if (result !== 'deadline') maybeReportTransition();
      return result;
    } finally {
      stop.removeEventListener('abort', onStop);
      ctl.abort(); // cancels the deadline timer, or the lock call that lost the race
    }
  }

  /**
   * The wait before the next acquire attempt: client-go's jittered retry period, cut short to the moment the
   * observed lease expires (observedAt + its duration, plus a few ms so the attempt sees it expired). Without the
   * cut, a crash is noticed up to 2.2 × retryPeriod after expiry; with it, the takeover follows expiry at once.
   * Only a lease that has not expired yet cuts the wait, so a failing API server is still polled with jitter —
   * except right after an attempt that found the lease still held: if it expired while that attempt was on its
   * way back, the next attempt follows at once (a read straddling the expiry must not cost a retry period).
   */
  function nextAttemptInMs(): number {
    const jittered = retryPeriodMs * (1 + random() * JITTER_FACTOR);
    if (!observedRecord || observedRecord.holderIdentity === '' || observedHolderIsMe()) return jittered;
    const untilExpiry = observedAt + observedRecord.leaseDurationSeconds * 1000 - clock.now();
    if (untilExpiry > 0) return Math.min(jittered, untilExpiry + EXPIRY_MARGIN_MS);
    return heldByOther ? EXPIRY_MARGIN_MS : jittered;
  }

  /**
   * A Lease record seen by a watch (the host watches the Lease on every replica). Followers take it as a fresher
   * observation than their last poll: the expiry clock starts when the change reached us, which is never earlier
   * than the holder's write, so the safety argument (holder stops at renewDeadline < leaseDuration from the start
   * of its last successful write) is unchanged. Ignored while we lead (our own writes are the truth) and when it
   * is older than what we already observed (a lagging watch), so it never moves the expiry back.
   */
  function observe(record: LeaderRecord, raw: string): void {
    if (term !== undefined || raw === observedRaw) return;
    const prev = observedRecord;
    if (
      prev &&
      record.holderIdentity === prev.holderIdentity &&
      (record.renewTime ?? 0) < (prev.renewTime ?? 0) &&
      record.leaderTransitions <= prev.leaderTransitions
    )
      return;
    setObservedRecord(record);
    observedRaw = raw;
    maybeReportTransition();
    // Released: try at once. Otherwise the acquire loop's wait already ends no later than the new expiry.
    if (record.holderIdentity === '') nudges.abort();
  }

  /** Tries until we hold the lease (true) or `stop` aborts (false). Waits are jittered. */
  async function acquire(stop: AbortSignal): Promise<boolean> {
    log.info({ lease, identity: id }, 'attempting to acquire the leader lease');
    while (!stop.aborted) {
      const started = clock.now();
      const r = await attempt(stop, started + renewDeadlineMs);
      if (r === 'ok') return true;
      if (r === 'stopped') return false;
      // A nudge (the Lease was seen released) ends the wait early: graceful handover needs no full retry period.
      await clock.sleep(nextAttemptInMs(), AbortSignal.any([stop, nudges.signal]));
      if (nudges.signal.aborted) nudges = new AbortController();
    }
    return false;
  }

  /**
   * Renews every retryPeriod while we lead. Returns why the term ends: the stop signal, or no successful renewal
   * for renewDeadline (measured from when the last successful write was sent, so the term ends before any
   * follower, counting leaseDuration from when it saw that write, may take over).
   *
   * The next renewal is due one retryPeriod after the last successful one (lastRenew), not one retryPeriod after
   * it answered: a write that answered late — an acquisition on a busy process, a slow API server — is followed by
   * the next one at once, so every renewal gets the rest of the renew deadline rather than what is left after a
   * full retryPeriod of sleep (issue #13: slots re-acquired after a reconnect were lost again to their renew
   * deadline before their first renewal was even tried).
   */
  async function renew(stop: AbortSignal): Promise<'stopped' | 'lost'> {
    while (true) {
      await clock.sleep((lastRenew ?? clock.now()) + retryPeriodMs - clock.now(), stop);
      while (true) {
        if (stop.aborted) return 'stopped';
        const deadline = (lastRenew ?? 0) + renewDeadlineMs;
        if (clock.now() >= deadline) return 'lost';
        const t0 = clock.now();
        const r = await attempt(stop, deadline);
        if (r === 'stopped') return 'stopped';
        if (r === 'deadline') return 'lost';
        if (r === 'ok') {
          metrics.renewLatency(lease, (clock.now() - t0) / 1000);
          break;
        }
        await clock.sleep(Math.min(retryPeriodMs, deadline - clock.now()), stop);
      }
    }
  }

  function startTerm(): Term {
    const controller = new AbortController();
    const info: LeaderTermInfo = Object.freeze({ signal: controller.signal, identity: id, startedAt: clock.now() });
    metrics.leaderOn(lease);
    log.info(
      { lease, leader: id, transitions: observedRecord?.leaderTransitions, lastRenewAt: lastRenew },
      `became leader: ${id}`,
    );
    const started = (async () => {
      try {
        // Run the callback only once the caller has recorded this term, so inside it isLeader() and
        // canActAsLeader() are already true (leader-only work started there must be allowed to write).
        await null;
        await c.callbacks.onStartedLeading(info);
      } catch (err) {
        log.error({ lease, err }, 'onStartedLeading failed');
      }
    })();
    return { controller, info, started };
  }

  /** Aborts the term's signal FIRST, then waits (at most renewDeadline) for both callbacks. */
  async function endTerm(t: Term, reason: string): Promise<boolean> {
    t.controller.abort(new ZwError('ZW_ERR_ABORTED', `leadership ended: ${reason}`));
    metrics.leaderOff(lease);
    const level = reason === 'stopped' ? 'info' : 'error';
    log[level]({ lease, leader: id, reason, lastRenewAt: lastRenew }, `stopped leading: ${reason}`);
    const stopped = (async () => {
      try {
        await c.callbacks.onStoppedLeading(reason);
      } catch (err) {
        log.error({ lease, err }, 'onStoppedLeading failed');
      }
    })();
    const timeout = new AbortController();
    const inTime = await Promise.race([
      Promise.all([t.started, stopped]).then(() => true),
      clock.sleep(renewDeadlineMs, timeout.signal).then(() => false),
    ]);
    timeout.abort();
    if (!inTime) log.error({ lease, reason }, 'leader work did not stop within renewDeadline');
    return inTime;
  }

  /** Gives the lease up: holder '', duration 1 s. Retries on a conflict only while the Lease still names us. */
  async function release(): Promise<void> {
    if (!observedHolderIsMe() || !observedRecord) return;
    const now = clock.now();
    const released: LeaderRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaderTransitions: observedRecord.leaderTransitions,
    };
    const deadline = now + renewDeadlineMs;
    for (let i = 0; i < 3 && clock.now() < deadline; i++) {
      const ctl = new AbortController();
      const timer = clock
        .sleep(deadline - clock.now(), ctl.signal)
        .then(() => ctl.abort(new ZwError('ZW_ERR_ABORTED', 'deadline')));
      try {
        if (i > 0) {
          // A conflict: someone wrote since our last write. Release only if the Lease still names us.
          const current = await lock.get(ctl.signal);
          if (!current || current.record.holderIdentity !== id) {
            log.info({ lease, leader: current?.record.holderIdentity }, 'lease no longer ours; nothing to release');
            if (current) setObservedRecord(current.record);
            return;
          }
          released.leaderTransitions = current.record.leaderTransitions;
        }
        await lock.update(released, ctl.signal);
        setObservedRecord(released);
        lastRenew = undefined;
        maybeReportTransition();
        log.info({ lease, identity: id }, 'released the leader lease');
        return;
      } catch (err) {
        log.warn({ lease, err: errorText(err), attempt: i + 1 }, 'cannot release the lease');
        if (!isConflict(err)) return;
      } finally {
        ctl.abort();
        await timer;
      }
    }
  }

  async function run(signal: AbortSignal): Promise<void> {
    if (running) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'leader election: run() is already running');
    running = true;
    try {
      while (!signal.aborted) {
        if (!(await acquire(signal))) break;
        term = startTerm();
        const why = await renew(signal);
        const reason = why === 'stopped' ? 'stopped' : 'renew deadline exceeded';
        const inTime = await endTerm(term, reason);
        term = undefined;
        if (!inTime) {
          throw new LeaderStopDeadlineError(
            `leader election: the term on ${lease} did not end within renewDeadline (${renewDeadlineMs} ms)`,
          );
        }
      }
      // Stopped: give the Lease up if it (as last observed) still names us, even if the term was already lost.
      if (releaseOnCancel) await release();
    } finally {
      running = false;
    }
  }

  const elector: LeaderElector = {
    run,
    nudge: () => nudges.abort(),
    observe,
    isLeader: () => term !== undefined && !term.controller.signal.aborted,
    canActAsLeader: () => elector.isLeader() && lastRenew !== undefined && clock.now() - lastRenew < renewDeadlineMs,
    lastRenewAt: () => lastRenew,
    leaderIdentity: () => observedRecord?.holderIdentity || undefined,
    healthy: (toleranceMs = 0) =>
      leaderHealth({
        holdsLease: observedHolderIsMe(),
        lastRenewAt: lastRenew,
        now: clock.now(),
        leaseDurationMs,
        toleranceMs,
        lease,
      }),
  };
  return elector;
}

function isConflict(err: unknown): boolean {
  return err instanceof LeaderLockError && err.apiStatus === 409;
}
