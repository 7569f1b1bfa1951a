/**
 * One delivery lane: one destination, one loop. Each destination has its own lane, so a receiver that is slow or
 * down for good delays only its own lane; ingestion never waits on delivery (the state is the store/cluster, not
 * a queue the pipeline feeds).
 *
 * Each turn: give up what lies beyond the backlog bound (counted) → take the oldest undelivered batch → note it
 * as being sent → send (onDeliver) → settle it, or back off (exponential, jitter, Retry-After) and try again.
 * The batch is read again from the state each turn, so the bound is enforced during a long outage too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryItem, DeliveryRequest, DeliveryResult, DestinationView } from '../api/index.ts';
import { isZwError, ZwError } from '../api/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { DeliveryState, PendingItem, StateTarget } from './state.ts';
import type { DestinationConfig } from './validate.ts';

const ABANDON_GRACE_MS = 5000;

export type Deliver = (request: DeliveryRequest) => Promise<DeliveryResult>;

export interface LaneHealth {
  ok: boolean;
  /** When the last send succeeded (ms). */
  lastDelivery?: number;
  lastError?: string;
  delivered: number;
  backlog: number;
  oldestAt?: number;
}

export interface LaneDeps {
  config: DestinationConfig;
  view: DestinationView;
  target: StateTarget;
  state: DeliveryState;
  deliver: Deliver;
  metrics: Metrics;
  log: Logger;
  /** How often an idle lane looks for new work (ms); wake() cuts it short. */
  idleMs?: number;
}

/** Backoff for the n-th consecutive failure (n ≥ 1): min·2^(n-1), capped, with ±20 % jitter; ≥ Retry-After. */
export function backoffMs(n: number, minMs: number, maxMs: number, retryAfterMs = 0, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(30, n - 1));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.max(retryAfterMs, Math.min(maxMs, jittered));
}

export function retryReason(err: unknown): string {
  if (isZwError(err) && err.code === 'ZW_ERR_DELIVERY_FAILED') {
    if (err.status === 429) return 'http_429';
    if (err.status >= 500 && err.status !== 502) return 'http_5xx';
    if (err.status >= 400 && err.status < 500) return `http_${err.status}`;
    return 'network';
  }
  if (isZwError(err) && err.code === 'ZW_ERR_PLUGIN_FAILED') {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.name === 'TapTimeoutError') return 'timeout';
    return 'plugin';
  }
  return 'plugin';
}

/** A failure after which the receiver may or may not have the batch (so the next send may be a duplicate). */
function outcomeUnknown(err: unknown): boolean {
  if (isZwError(err) && err.code === 'ZW_ERR_DELIVERY_FAILED') return err.status === 502; // no HTTP answer
  return true; // a timeout or a plugin failure mid-send
}

export class DeliveryLane {
  readonly #d: LaneDeps;
  readonly #labels: { destination: string; type: string };
  #wake: (() => void) | undefined;
  #failures = 0;
  /** The items of the last send whose outcome is unknown (refs): sending them again counts as resends. */
  #unknown = new Set<string>();
  /** Items already counted as resent (each Observation event counts once, however many tries it takes). */
  #counted = new Set<string>();
  readonly health: LaneHealth = { ok: true, delivered: 0, backlog: 0 };

  constructor(deps: LaneDeps) {
    this.#d = deps;
    this.#labels = { destination: deps.config.key, type: deps.config.spec.type };
  }

  /** New work may be there (an Observation was written): end an idle wait early. */
  wake(): void {
    this.#wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { config, state, target, metrics, log } = this.#d;
    metrics.destinationUp.set(this.#labels, 1);
    while (!signal.aborted) {
      try {
        const dropped = await state.trim(target, config.spec.delivery.maxBacklog);
        if (dropped > 0) {
          metrics.destinationDropped.inc({ ...this.#labels, reason: 'backlog_full' }, dropped);
          log.warn(
            { destination: config.key, dropped, maxBacklog: config.spec.delivery.maxBacklog },
            'destination backlog passed spec.delivery.maxBacklog: the oldest undelivered Observations were given up (zen_watcher_destination_dropped_total)',
          );
        }
        await this.#measure();
        if (config.spec.paused) {
          await this.#idle(signal, this.#d.idleMs ?? 1000);
          continue;
        }
        const items = await state.next(target, config.spec.delivery.batchSize);
        if (items.length === 0) {
          await this.#idle(signal, this.#d.idleMs ?? 1000);
          continue;
        }
        const wait = await this.#send(items, signal);
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => {});
      } catch (err) {
        if (signal.aborted) break;
        // The state itself failed (store or API server): not the receiver's fault, retry after a pause.
        log.warn({ destination: config.key, err: (err as Error).message }, 'delivery state unavailable; retrying');
        await sleep(1000, undefined, { signal }).catch(() => {});
      }
    }
    // This replica no longer delivers to it (leadership lost, Destination gone or changed): stop exporting the
    // lane's current-state gauges, so a former leader does not keep reporting a backlog it no longer measures
    // (the alert rules take the max or sum over replicas). Counters stay: they only ever count up.
    for (const g of [metrics.destinationBacklog, metrics.destinationOldestAge, metrics.destinationUp])
      g.remove(this.#labels);
  }

  /** One send of one batch; returns how long to wait before the next turn (0 = go on). */
  async #send(all: PendingItem[], signal: AbortSignal): Promise<number> {
    const { config, state, target, metrics, log, view } = this.#d;
    // Their Observation expired before delivery: given up, counted.
    const expired = all.filter((i) => i.observation === undefined);
    const items = all.filter((i) => i.observation !== undefined);
    if (items.length === 0) {
      await state.settle(target, all);
      metrics.destinationFailed.inc({ ...this.#labels, reason: 'expired' }, expired.length);
      return 0;
    }
    let resends = 0;
    for (const i of items) {
      if ((i.resend || this.#unknown.has(i.ref)) && !this.#counted.has(i.ref)) {
        this.#counted.add(i.ref);
        resends++;
      }
    }
    if (resends > 0) metrics.destinationResent.inc(this.#labels, resends);
    await state.sending(target, items);
    const timeout = AbortSignal.timeout(config.timeoutMs);
    const request: DeliveryRequest = {
      destination: view,
      items: items.map((i): DeliveryItem => ({ key: i.key, event: i.event, observation: i.observation })),
      attempt: this.#failures + 1,
      signal: AbortSignal.any([signal, timeout]),
    };
    const end = metrics.destinationSendDuration.startTimer(this.#labels);
    let result: DeliveryResult;
    try {
      // A tap that ignores its signal is abandoned shortly after the deadline (an unknown outcome).
      let timer: NodeJS.Timeout | undefined;
      const abandon = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new ZwError(
                'ZW_ERR_DESTINATION',
                `onDeliver did not finish within ${config.timeoutMs + ABANDON_GRACE_MS} ms`,
              ),
            ),
          config.timeoutMs + ABANDON_GRACE_MS,
        );
      });
      try {
        result = await Promise.race([this.#d.deliver(request), abandon]);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      end();
      if (signal.aborted) return 0; // stopping: the state keeps them as "sending" (a resend next time)
      const message = err instanceof Error ? err.message : String(err);
      this.health.ok = false;
      this.health.lastError = message;
      metrics.destinationUp.set(this.#labels, 0);
      const retryable = !(isZwError(err) && (err as { retryable?: boolean }).retryable === false);
      if (!retryable) {
        await state.settle(target, all);
        for (const i of all) this.#counted.delete(i.ref);
        metrics.destinationFailed.inc({ ...this.#labels, reason: 'rejected' }, items.length);
        if (expired.length) metrics.destinationFailed.inc({ ...this.#labels, reason: 'expired' }, expired.length);
        log.error(
          { destination: config.key, items: items.length, err: message },
          'destination refused a batch for good; given up (zen_watcher_destination_failed_total{reason="rejected"})',
        );
        this.#failures = 0;
        return 0;
      }
      // A plugin that sends item by item may have delivered a prefix of the batch: settle that part.
      const accepted = Math.min(items.length, Math.max(0, (err as { accepted?: number }).accepted ?? 0));
      if (accepted > 0) {
        const upTo = all.indexOf(items[accepted - 1]!) + 1;
        const settled = all.slice(0, upTo);
        await state.settle(target, settled);
        for (const i of settled) this.#counted.delete(i.ref);
        const gone = settled.filter((i) => i.observation === undefined).length;
        if (gone) metrics.destinationFailed.inc({ ...this.#labels, reason: 'expired' }, gone);
        metrics.destinationDelivered.inc(this.#labels, accepted);
        this.health.delivered += accepted;
        items.splice(0, accepted);
      }
      this.#failures++;
      this.#unknown = outcomeUnknown(err) ? new Set(items.map((i) => i.ref)) : new Set();
      const reason = timeout.aborted ? 'timeout' : retryReason(err);
      metrics.destinationRetries.inc({ ...this.#labels, reason });
      const retryAfter = isZwError(err) && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
      const wait = backoffMs(this.#failures, config.minBackoffMs, config.maxBackoffMs, retryAfter);
      const logAt = this.#failures === 1 || this.#failures % 10 === 0 ? 'warn' : 'debug';
      log[logAt](
        { destination: config.key, attempt: this.#failures, retryInMs: Math.round(wait), reason, err: message },
        'delivery failed; retrying with backoff',
      );
      return Math.min(wait, config.maxBackoffMs + retryAfter);
    }
    end();
    const rejected = new Map((result?.rejected ?? []).map((r) => [r.key, r.reason]));
    await state.settle(target, all);
    const accepted = items.filter((i) => !rejected.has(i.key)).length;
    metrics.destinationDelivered.inc(this.#labels, accepted);
    if (rejected.size > 0) {
      metrics.destinationFailed.inc({ ...this.#labels, reason: 'rejected' }, items.length - accepted);
      log.warn(
        { destination: config.key, rejected: items.length - accepted, example: [...rejected.values()][0] },
        'destination rejected some Observations for good (zen_watcher_destination_failed_total{reason="rejected"})',
      );
    }
    if (expired.length) metrics.destinationFailed.inc({ ...this.#labels, reason: 'expired' }, expired.length);
    if (!this.health.ok) log.info({ destination: config.key, after: this.#failures }, 'destination reachable again');
    this.#failures = 0;
    this.#unknown = new Set();
    for (const i of all) this.#counted.delete(i.ref);
    this.health.ok = true;
    this.health.lastError = undefined;
    this.health.lastDelivery = Date.now();
    this.health.delivered += accepted;
    metrics.destinationUp.set(this.#labels, 1);
    return 0;
  }

  async #measure(): Promise<void> {
    const b = await this.#d.state.backlog(this.#d.target);
    this.health.backlog = b.count;
    this.health.oldestAt = b.oldestAt;
    this.#d.metrics.destinationBacklog.set(this.#labels, b.count);
    this.#d.metrics.destinationOldestAge.set(
      this.#labels,
      b.oldestAt === undefined ? 0 : Math.max(0, (Date.now() - b.oldestAt) / 1000),
    );
  }

  async #idle(signal: AbortSignal, ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}
