/**
 * The delivery manager: knows the Destinations (valid and rejected), the routes from the active Ingesters, and
 * runs one lane per Destination while this replica delivers (the leader term). A change of a Destination or of
 * its routes restarts only that lane; the durable state makes a restart lose and repeat nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryRequest, DeliveryResult, DestinationView } from '../api/index.ts';
import { DeliveryError, ZwError } from '../api/index.ts';
import type { FieldError, IngesterConfig } from '../config/validate.ts';
import type { HostHooks } from '../hooks/host-hooks.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { DeliveryLane, type LaneHealth } from './lane.ts';
import { type Route, routesByDestination } from './routes.ts';
import type { DeliveryState } from './state.ts';
import type { DestinationConfig } from './validate.ts';
import { destinationView } from './view.ts';

export interface RejectedDestination {
  key: string;
  reason: 'InvalidConfig' | 'PluginMissing';
  errors: FieldError[];
}

/** Reads one key of a Destination's credentials: kubernetes → its Secret, standalone → a file in secretDir. */
export type SecretReader = (destination: DestinationConfig, key: string) => Promise<string | undefined>;

export interface ManagerDeps {
  hooks: HostHooks;
  metrics: Metrics;
  log: Logger;
  state: DeliveryState;
  secrets: SecretReader;
  idleMs?: number;
}

interface Running {
  lane: DeliveryLane;
  controller: AbortController;
  done: Promise<void>;
  version: string;
}

/** Standalone credentials: `<secretDir>/<key>`, trailing newline trimmed; undefined when the file is absent. */
export const fileSecrets: SecretReader = async (dest, key) => {
  const dir = dest.spec.secretDir;
  if (!dir) return undefined;
  if (!/^[-._a-zA-Z0-9]+$/.test(key))
    throw new ZwError('ZW_ERR_DESTINATION', `secret key '${key}' is not a valid Secret key`);
  try {
    return (await readFile(join(dir, key), 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
};

export class DestinationManager {
  readonly #d: ManagerDeps;
  #destinations = new Map<string, DestinationConfig>();
  #rejected: RejectedDestination[] = [];
  #routes = new Map<string, Route[]>();
  #running = new Map<string, Running>();
  #signal: AbortSignal | undefined;

  constructor(deps: ManagerDeps) {
    this.#d = deps;
  }

  get destinations(): readonly DestinationConfig[] {
    return [...this.#destinations.values()];
  }

  get rejected(): readonly RejectedDestination[] {
    return this.#rejected;
  }

  routes(key: string): readonly Route[] {
    return this.#routes.get(key) ?? [];
  }

  /** Health of the lanes running here (the delivering replica). */
  health(): ReadonlyMap<string, LaneHealth> {
    return new Map([...this.#running].map(([k, r]) => [k, r.lane.health]));
  }

  async setDestinations(valid: readonly DestinationConfig[], rejected: readonly RejectedDestination[]) {
    this.#destinations = new Map(valid.map((d) => [d.key, d]));
    this.#rejected = [...rejected];
    const m = this.#d.metrics.destinationsActive;
    m.reset();
    m.set({ status: 'Ready' }, valid.length);
    for (const reason of ['InvalidConfig', 'PluginMissing'] as const)
      m.set({ status: reason }, rejected.filter((r) => r.reason === reason).length);
    for (const r of rejected)
      this.#d.log.warn({ destination: r.key, reason: r.reason, errors: r.errors }, 'Destination rejected');
    await this.#d.state.track?.(valid.map((d) => d.key));
    await this.#reconcile();
  }

  async setIngesters(active: readonly IngesterConfig[]) {
    this.#routes = routesByDestination(active);
    for (const [key] of this.#routes) {
      if (!this.#destinations.has(key) && !this.#rejected.some((r) => r.key === key)) {
        this.#d.log.warn({ destination: key }, 'an Ingester names a Destination that does not exist (yet)');
      }
    }
    await this.#reconcile();
  }

  /** Deliver until `signal` aborts (the leader term). */
  start(signal: AbortSignal): void {
    this.#d.state
      .begin?.(signal)
      .catch((err) => this.#d.log.warn({ err: (err as Error).message }, 'delivery state did not load'));
    this.#signal = signal;
    signal.addEventListener('abort', () => void this.#stopAll(), { once: true });
    void this.#reconcile();
    void this.#pruneLoop(signal);
  }

  /** New Observations were written: idle lanes look at once. */
  wake(): void {
    for (const r of this.#running.values()) r.lane.wake();
  }

  async stop(): Promise<void> {
    await this.#stopAll();
    this.#signal = undefined;
  }

  async #stopAll(): Promise<void> {
    const all = [...this.#running.values()];
    this.#running.clear();
    for (const r of all) r.controller.abort();
    await Promise.all(all.map((r) => r.done));
  }

  async #reconcile(): Promise<void> {
    const signal = this.#signal;
    if (!signal || signal.aborted) return;
    const want = new Map<string, { config: DestinationConfig; routes: Route[]; version: string }>();
    for (const [key, config] of this.#destinations) {
      const routes = this.#routes.get(key) ?? [];
      want.set(key, { config, routes, version: `${config.uid}/${config.generation}/${JSON.stringify(routes)}` });
    }
    for (const [key, r] of [...this.#running]) {
      if (want.get(key)?.version === r.version) continue;
      this.#running.delete(key);
      r.controller.abort();
      await r.done;
    }
    for (const [key, w] of want) {
      if (this.#running.has(key) || signal.aborted) continue;
      const controller = new AbortController();
      const laneSignal = AbortSignal.any([signal, controller.signal]);
      const lane = new DeliveryLane({
        config: w.config,
        view: this.#view(w.config),
        target: { key, routes: w.routes },
        state: this.#d.state,
        deliver: (req) => this.#deliver(w.config, req),
        metrics: this.#d.metrics,
        log: this.#d.log,
        ...(this.#d.idleMs !== undefined ? { idleMs: this.#d.idleMs } : {}),
      });
      const done = lane.run(laneSignal).catch((err) => {
        this.#d.log.error({ destination: key, err: (err as Error).message }, 'delivery lane stopped');
      });
      this.#running.set(key, { lane, controller, done, version: w.version });
    }
  }

  async #deliver(config: DestinationConfig, request: DeliveryRequest): Promise<DeliveryResult> {
    const hook = this.#d.hooks.onDeliver.get(config.spec.type);
    if (!hook?.taps.length) {
      throw new DeliveryError(
        `plugin '${config.info.plugin}' registered no onDeliver tap for destination type '${config.spec.type}'`,
      );
    }
    return hook.promise(request);
  }

  #view(config: DestinationConfig): DestinationView {
    const secrets = this.#d.secrets;
    return destinationView(config, (key) => secrets(config, key));
  }

  async #pruneLoop(signal: AbortSignal): Promise<void> {
    const prune = this.#d.state.prune?.bind(this.#d.state);
    if (!prune) return;
    while (!signal.aborted) {
      try {
        await prune([...this.#destinations.keys()]);
      } catch (err) {
        this.#d.log.warn({ err: (err as Error).message }, 'pruning delivery state failed');
      }
      await sleep(60_000, undefined, { signal }).catch(() => {});
    }
  }
}
