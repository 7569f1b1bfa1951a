/**
 * Who holds which shard slot (ADR 0020), in kubernetes mode with `ZEN_SHARD_SLOTS` > 1.
 *
 * - Membership: every replica renews its own member Lease (`<election-id>-member-<hash of identity>`) every retry
 *   period and releases it (holder '') on a graceful stop. A member is live while the last change seen on its Lease
 *   is younger than its lease duration, by this replica's clock (as the elector times leases), and it is not
 *   suspected: a member named by a slot Lease that went unchanged for that slot's lease duration is suspected until
 *   its member Lease changes again (ADR 0023). So a crashed member's share is recomputed at the first expiry of
 *   its slot Leases — the moment those slots' electors may take them — not at its member Lease's expiry, which is
 *   renewed on its own timer and can come up to a retry period (or a slow write) later.
 * - Slots: slot i is the Lease `<election-id>-shard-<i>`, held with the leader elector of core/leader (the client-go
 *   algorithm, proven by the HA suite for the leader Lease), one elector per slot. A replica runs the electors of
 *   the slots `assignSlots(live members)` gives it and stops the others: stopping ends the slot's term — its work
 *   stops first (the hub aborts the epoch that used it) — and then releases its Lease, so the next holder, whose
 *   elector is nudged by the Lease watch, never overlaps.
 * - One watch of the Leases in the Lease namespace feeds both: member records, and every slot record to that slot's
 *   elector (`observe`), so a crashed holder's slot is taken at its expiry and a released one at once.
 * - The guard of a slot is its elector's `canActAsLeader()`: held, and renewed within the renew deadline.
 *
 * Each ownership change is traced (ZEN_SHARD_TRACE_FILE) and counted (zen_watcher_shard_*).
 */
import { appendFileSync } from 'node:fs';
import type { KubeConfig, V1LeaseSpec } from '@kubernetes/client-node';
import { ZwError } from '../api/errors.ts';
import { errorText } from '../api/helpers.ts';
import { createInformer } from '../kube/informer.ts';
import {
  createLeaderElector,
  type LeaderElector,
  type LeaderLog,
  type LeaderRecord,
  LeaderStopDeadlineError,
  LeaseLock,
  leaseRequestTimeoutMs,
  leaseSpecToRecord,
  rawRecord,
} from '../leader/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { memberLeaseName, slotLeaseName, slotsFor } from './slots.ts';

export interface SlotListener {
  /** The slot's term started (its Lease is held); work on it may start. */
  acquired(slot: number): void;
  /** The slot's term ended or is ending: stop its work. Awaited (bounded) before the Lease is released. */
  released(slot: number): void | Promise<void>;
}

export interface ShardCoordinatorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  electionId: string;
  identity: string;
  slots: number;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  metrics: Metrics;
  traceFile?: string | undefined;
  listener: SlotListener;
}

interface Member {
  holder: string;
  durationMs: number;
  raw: string;
  observedAt: number;
}

/** A slot Lease as seen by the watch: who holds it, and when it last changed (this replica's clock). */
interface SlotSeen {
  holder: string;
  durationMs: number;
  raw: string;
  observedAt: number;
}

interface SlotRun {
  ctl: AbortController;
  /** When this replica started taking the slot (its clock). */
  startedAt: number;
  done: Promise<void>;
  reason: 'rebalance' | 'shutdown';
}

const now = () => performance.timeOrigin + performance.now();

export class ShardCoordinator {
  readonly slots: number;
  readonly identity: string;
  readonly #o: ShardCoordinatorOptions;
  readonly #log: Logger;
  readonly #electors: LeaderElector[] = [];
  readonly #runs = new Map<number, SlotRun>();
  readonly #held = new Set<number>();
  readonly #members = new Map<string, Member>();
  readonly #slotsSeen = new Map<number, SlotSeen>();
  /** Members suspected of having stopped (a slot Lease of theirs expired) → their member Lease record then. */
  readonly #suspects = new Map<string, string>();
  readonly #memberNames = new Map<string, string>();
  readonly #stop = new AbortController();
  readonly #memberLock: LeaseLock;
  #memberKnown = false;
  #ready = false;
  #stopping = false;
  #expiryTimer: NodeJS.Timeout | undefined;
  #tick: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  /** Set by the elector's failover metric just before a term starts: how the slot was taken. */
  readonly #previous = new Map<number, 'released' | 'expired'>();
  /** Set with it: from the previous holder's last write reaching this replica to the start of the taking attempt. */
  readonly #gapMs = new Map<number, number>();

  constructor(o: ShardCoordinatorOptions) {
    this.#o = o;
    this.slots = o.slots;
    this.identity = o.identity;
    this.#log = o.log.child({ component: 'shard' });
    const requestTimeoutMs = leaseRequestTimeoutMs(o.renewDeadlineMs);
    this.#memberLock = new LeaseLock({
      kubeConfig: o.kubeConfig,
      namespace: o.namespace,
      name: memberLeaseName(o.electionId, o.identity),
      identity: o.identity,
      requestTimeoutMs,
    });
    // The slot electors log their routine at debug: 16 "attempting to acquire" lines per start help nobody.
    const quiet: LeaderLog = {
      info: (obj, msg) => this.#log.debug(obj, msg),
      debug: (obj, msg) => this.#log.debug(obj, msg),
      warn: (obj, msg) => this.#log.warn(obj, msg),
      error: (obj, msg) => this.#log.error(obj, msg),
    };
    for (let slot = 0; slot < o.slots; slot++) {
      const lock = new LeaseLock({
        kubeConfig: o.kubeConfig,
        namespace: o.namespace,
        name: slotLeaseName(o.electionId, slot),
        identity: o.identity,
        requestTimeoutMs,
      });
      this.#electors.push(
        createLeaderElector({
          lock,
          leaseDurationMs: o.leaseDurationMs,
          renewDeadlineMs: o.renewDeadlineMs,
          retryPeriodMs: o.retryPeriodMs,
          log: quiet,
          metrics: {
            leaderOn: () => {},
            leaderOff: () => {},
            transition: () => {},
            renewLatency: () => {},
            slowPath: () => {},
            failover: (_lease, seconds, previous) => {
              this.#previous.set(slot, previous);
              this.#gapMs.set(slot, Math.round(seconds * 1000));
              o.metrics.shardTakeover.observe({ previous }, seconds);
            },
          },
          callbacks: {
            onStartedLeading: () => this.#acquired(slot),
            onStoppedLeading: (reason) => this.#released(slot, reason),
          },
        }),
      );
    }
    o.metrics.shardSlots.set(o.slots);
    o.metrics.shardSlotsOwned.set(0);
  }

  /** Slots held now (term active), ascending. */
  owned(): number[] {
    return [...this.#held].sort((a, b) => a - b);
  }

  /** Slot `slot` is held and was renewed within the renew deadline (local monotonic clock). */
  canAct(slot: number): boolean {
    return this.#held.has(slot) && (this.#electors[slot]?.canActAsLeader() ?? false);
  }

  /** A slot assigned to this replica is not held yet (its elector is still taking it). */
  settling(): boolean {
    for (const [slot, run] of this.#runs) if (!run.ctl.signal.aborted && !this.#held.has(slot)) return true;
    return false;
  }

  /**
   * A slot assigned to this replica and not held yet is about to be taken: its Lease (as last seen) is free, still
   * names this replica, was never seen, or expires within a retry period.
   */
  imminent(): boolean {
    const at = now();
    for (const [slot, run] of this.#runs) {
      if (run.ctl.signal.aborted || this.#held.has(slot)) continue;
      const seen = this.#slotsSeen.get(slot);
      if (!seen || seen.holder === '' || seen.holder === this.identity) return true;
      if (seen.observedAt + seen.durationMs - at <= this.#o.retryPeriodMs) return true;
    }
    return false;
  }

  /** Live members as last computed (this replica included). */
  members(): string[] {
    return this.#live();
  }

  /** Starts the member Lease, the Lease watch, and (after the watch's first list) the slots of this replica. */
  start(): void {
    const signal = this.#stop.signal;
    const prefixSlot = `${this.#o.electionId}-shard-`;
    const prefixMember = `${this.#o.electionId}-member-`;
    const onLease = (l: { metadata?: { name?: string }; spec?: V1LeaseSpec }): void => {
      const name = l.metadata?.name ?? '';
      const spec = l.spec ?? {};
      if (name.startsWith(prefixSlot)) {
        const rest = name.slice(prefixSlot.length);
        if (!/^\d+$/.test(rest)) return;
        const slot = Number(rest);
        const record = leaseSpecToRecord(spec);
        const raw = rawRecord(spec);
        this.#electors[slot]?.observe(record, raw);
        if (slot < this.slots) this.#observeSlot(slot, record, raw);
      } else if (name.startsWith(prefixMember)) {
        this.#observeMember(name, leaseSpecToRecord(spec), rawRecord(spec));
      }
    };
    void createInformer<{ metadata?: { name?: string }; spec?: V1LeaseSpec }>(
      this.#o.kubeConfig,
      { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: this.#o.namespace, signal },
      {
        add: onLease,
        update: onLease,
        delete: (l) => {
          if (this.#members.delete(l.metadata?.name ?? '')) this.#rebalance();
        },
        synced: (all) => {
          for (const l of all) onLease(l);
          if (!this.#ready) {
            this.#ready = true;
            this.#log.info(
              { slots: this.slots, members: this.#live(), identity: this.identity },
              'shard membership listed; taking this replica’s share of the slots',
            );
          }
          this.#rebalance();
        },
      },
      { log: this.#log.child({ component: 'shard-lease-watch' }) },
    ).catch((err) => {
      if (!signal.aborted) this.#log.error({ err: errorText(err) }, 'shard Lease watch stopped');
    });
    const renew = async () => {
      if (signal.aborted || this.#stopping) return;
      this.#renewing = this.#renewMember();
      await this.#renewing;
      this.#rebalance();
      this.#tick = setTimeout(renew, this.#o.retryPeriodMs);
      this.#tick.unref?.();
    };
    void renew();
  }

  /**
   * Graceful stop: the member Lease is released (the others recompute their share at once), then every slot's
   * work stops and its Lease is released. Resolves when all slots are released (each within the renew deadline).
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#tick);
    clearTimeout(this.#expiryTimer);
    await this.#renewing?.catch(() => {});
    await this.#releaseMember();
    for (const slot of [...this.#runs.keys()]) this.#stopSlot(slot, 'shutdown');
    await Promise.all([...this.#runs.values()].map((r) => r.done));
    this.#stop.abort(new ZwError('ZW_ERR_ABORTED', 'shard coordinator stopped'));
    await this.#memberLock.close();
  }

  // ---- membership ---------------------------------------------------------------------------------------------

  #observeMember(name: string, record: LeaderRecord, raw: string): void {
    const prev = this.#members.get(name);
    if (prev?.raw === raw) return;
    this.#members.set(name, {
      holder: record.holderIdentity,
      durationMs: record.leaseDurationSeconds * 1000,
      raw,
      observedAt: now(),
    });
    // Only a change of who is live matters; a renewal of a live member changes nothing.
    if (!prev || prev.holder !== record.holderIdentity || !this.#isLive(prev)) this.#rebalance();
  }

  /** A slot Lease changed (watch). Its expiry may now be the next moment a member stops being live. */
  #observeSlot(slot: number, record: LeaderRecord, raw: string): void {
    if (this.#slotsSeen.get(slot)?.raw === raw) return;
    this.#slotsSeen.set(slot, {
      holder: record.holderIdentity,
      durationMs: record.leaseDurationSeconds * 1000,
      raw,
      observedAt: now(),
    });
    this.#armExpiry();
  }

  #isLive(m: Member, at = now()): boolean {
    return m.holder !== '' && m.observedAt + m.durationMs > at && this.#suspects.get(m.holder) !== m.raw;
  }

  /**
   * A member named by a slot Lease that nobody changed for its lease duration stopped renewing it: it crashed, is
   * paused or cut off (or its work on the slot stopped at its renew deadline). It is suspected — not live — from
   * then until its member Lease changes again: a crashed member's share moves now, not when its member Lease
   * expires, and it stays moved after the slot changed hands (until the member renews its member Lease, which a
   * crashed one never does; a paused or reconnected one gets its share back then).
   */
  #suspectStale(at: number): void {
    for (const [holder, raw] of this.#suspects) {
      if (this.#members.get(this.#memberName(holder))?.raw !== raw) this.#suspects.delete(holder);
    }
    for (const s of this.#slotsSeen.values()) {
      if (s.holder === '' || s.holder === this.identity || s.observedAt + s.durationMs > at) continue;
      const m = this.#members.get(this.#memberName(s.holder));
      if (m && m.holder === s.holder && !this.#suspects.has(s.holder)) {
        this.#suspects.set(s.holder, m.raw);
        this.#log.info({ member: s.holder }, 'shard member stopped renewing a slot Lease; its share moves');
      }
    }
  }

  #memberName(identity: string): string {
    let name = this.#memberNames.get(identity);
    if (name === undefined) {
      name = memberLeaseName(this.#o.electionId, identity);
      if (this.#memberNames.size > 1000) this.#memberNames.clear();
      this.#memberNames.set(identity, name);
    }
    return name;
  }

  #live(): string[] {
    const at = now();
    this.#suspectStale(at);
    const ids = new Set<string>([this.identity]);
    for (const m of this.#members.values()) if (this.#isLive(m, at)) ids.add(m.holder);
    return [...ids].sort();
  }

  #record(holder: string, durationSeconds: number): LeaderRecord {
    const t = Date.now();
    return {
      holderIdentity: holder,
      leaseDurationSeconds: durationSeconds,
      acquireTime: t,
      renewTime: t,
      leaderTransitions: 0,
    };
  }

  async #renewMember(): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#o.renewDeadlineMs)]);
    const record = this.#record(this.identity, Math.max(1, Math.floor(this.#o.leaseDurationMs / 1000)));
    try {
      if (!this.#memberKnown) {
        const cur = await this.#memberLock.get(signal);
        if (!cur) {
          await this.#memberLock.create(record, signal);
          this.#memberKnown = true;
          return;
        }
        this.#memberKnown = true;
      }
      await this.#memberLock.update(record, signal);
    } catch (err) {
      this.#memberKnown = false; // read it again next time (a conflict, or the Lease was deleted)
      if (!signal.aborted || !this.#stop.signal.aborted)
        this.#log.warn({ err: errorText(err) }, 'cannot renew this replica’s shard member Lease');
    }
  }

  async #releaseMember(): Promise<void> {
    const signal = AbortSignal.timeout(this.#o.renewDeadlineMs);
    try {
      if (!this.#memberKnown && !(await this.#memberLock.get(signal))) return;
      await this.#memberLock.update(this.#record('', 1), signal);
    } catch (err) {
      this.#log.warn({ err: errorText(err) }, 'cannot release this replica’s shard member Lease');
    }
  }

  // ---- slots --------------------------------------------------------------------------------------------------

  #rebalance(): void {
    if (!this.#ready || this.#stopping) return;
    const live = this.#live();
    this.#o.metrics.shardMembers.set(live.length);
    const want = new Set(slotsFor(this.identity, live, this.slots));
    for (let slot = 0; slot < this.slots; slot++) {
      const run = this.#runs.get(slot);
      if (want.has(slot) && !run) this.#startSlot(slot);
      else if (!want.has(slot) && run) this.#stopSlot(slot, 'rebalance');
    }
    this.#armExpiry();
  }

  /**
   * Recompute when the next live member stops being live: its member Lease runs out, or one of its slot Leases does
   * (a crashed replica's share is then taken at once, at the first of its Leases to expire).
   */
  #armExpiry(): void {
    if (!this.#ready || this.#stopping) return;
    clearTimeout(this.#expiryTimer);
    const at = now();
    this.#suspectStale(at);
    let next = Number.POSITIVE_INFINITY;
    const live = new Set<string>();
    for (const m of this.#members.values()) {
      if (m.holder === '' || m.holder === this.identity || !this.#isLive(m, at)) continue;
      live.add(m.holder);
      next = Math.min(next, m.observedAt + m.durationMs);
    }
    for (const s of this.#slotsSeen.values()) {
      if (!live.has(s.holder)) continue;
      next = Math.min(next, s.observedAt + s.durationMs);
    }
    if (!Number.isFinite(next)) return;
    this.#expiryTimer = setTimeout(() => this.#rebalance(), Math.max(0, next - at) + 5);
    this.#expiryTimer.unref?.();
  }

  #startSlot(slot: number): void {
    const ctl = new AbortController();
    const run: SlotRun = { ctl, startedAt: now(), reason: 'rebalance', done: Promise.resolve() };
    run.done = this.#electors[slot]!.run(ctl.signal)
      .catch((err: unknown) => {
        if (err instanceof LeaderStopDeadlineError) {
          // Work on the slot did not stop in time: only exiting guarantees no write after the Lease may be taken.
          this.#log.fatal(
            { slot, err: errorText(err) },
            'shard slot work did not stop within the renew deadline; exiting',
          );
          process.exit(1);
        }
        this.#log.error({ slot, err: errorText(err) }, 'shard slot election stopped');
      })
      .finally(() => {
        if (this.#runs.get(slot) === run) this.#runs.delete(slot);
        // Wanted again meanwhile (a member came back): start over.
        if (!this.#stopping) this.#rebalance();
      });
    this.#runs.set(slot, run);
  }

  #stopSlot(slot: number, reason: 'rebalance' | 'shutdown'): void {
    const run = this.#runs.get(slot);
    if (!run || run.ctl.signal.aborted) return;
    run.reason = reason;
    run.ctl.abort(new ZwError('ZW_ERR_ABORTED', `shard slot ${slot}: ${reason}`));
  }

  #acquired(slot: number): void {
    this.#held.add(slot);
    this.#o.metrics.shardSlotsOwned.set(this.#held.size);
    const previous = this.#previous.get(slot) ?? 'new';
    this.#o.metrics.shardAcquisitions.inc({ previous });
    this.#previous.delete(slot);
    this.#trace({ event: 'acquire', slot });
    // How the taking went: since this replica started taking the slot, and from the previous holder's last write
    // reaching this replica to the start of the attempt that took it (a lease duration after an expiry).
    const run = this.#runs.get(slot);
    const gapMs = this.#gapMs.get(slot);
    this.#gapMs.delete(slot);
    this.#log.info(
      {
        slot,
        owned: this.owned(),
        previous,
        ...(run ? { takingMs: Math.round(now() - run.startedAt) } : {}),
        ...(gapMs !== undefined ? { attemptAfterLastChangeMs: gapMs } : {}),
      },
      `shard slot ${slot} acquired`,
    );
    this.#o.listener.acquired(slot);
  }

  async #released(slot: number, why: string): Promise<void> {
    this.#held.delete(slot);
    this.#o.metrics.shardSlotsOwned.set(this.#held.size);
    const reason = why === 'stopped' ? (this.#runs.get(slot)?.reason ?? 'rebalance') : 'lost';
    try {
      await this.#o.listener.released(slot);
    } finally {
      this.#o.metrics.shardReleases.inc({ reason });
      this.#trace({ event: 'release', slot, reason });
      const level = reason === 'lost' ? 'warn' : 'info';
      this.#log[level]({ slot, reason, owned: this.owned() }, `shard slot ${slot} released (${reason})`);
    }
  }

  #trace(o: Record<string, unknown>): void {
    const file = this.#o.traceFile;
    if (!file) return;
    try {
      appendFileSync(file, `${JSON.stringify({ ...o, identity: this.identity, t: Date.now(), pid: process.pid })}\n`);
    } catch (err) {
      this.#log.warn({ err: errorText(err), file }, 'cannot write the shard trace file');
    }
  }
}
