/**
 * Delivery to Destinations, wired in one call from the host: the Destination definitions (files in standalone
 * mode; the Destination resources in kubernetes mode), the routes from the Ingesters, the durable state (the
 * store's outbox; the cluster) and the lanes that run while this replica delivers.
 */
import type { Ajv } from 'ajv';
import type { RunMode } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import type { IngesterConfig } from '../config/validate.ts';
import type { HostHooks } from '../hooks/host-hooks.ts';
import type { PluginRecord } from '../loader/index.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { loadDestinationFiles } from './files.ts';
import { DestinationManager, fileSecrets, type SecretReader } from './manager.ts';
import { SqliteOutbox } from './sqlite-outbox.ts';
import type { DeliveryState } from './state.ts';
import { DestinationValidator, destinationTypeTable } from './validate.ts';

export type { DestinationConfig } from './validate.ts';
export { DestinationValidator, destinationTypeTable, isDestinationDocument } from './validate.ts';

export interface Destinations {
  readonly manager: DestinationManager | undefined;
  /** The active Ingesters changed: their routes to Destinations may have. */
  setIngesters(active: readonly { config: IngesterConfig }[]): Promise<void>;
  /** Deliver until the signal aborts (call at the start of each leader term). */
  start(signal: AbortSignal): void;
  close(): Promise<void>;
}

export interface DestinationDeps {
  mode: RunMode;
  env: Readonly<HostEnv>;
  hooks: HostHooks;
  metrics: Metrics;
  log: Logger;
  ajv: Ajv;
  plugins: readonly PluginRecord[];
  sink: ObservationSink;
  /** Kubernetes mode: the cluster-backed pieces (kube-feed.ts). */
  kube?: KubeDestinations | undefined;
}

/** What kubernetes mode provides (kube-feed.ts createKubeDestinations). */
export interface KubeDestinations {
  state: DeliveryState;
  secrets: SecretReader;
  watch(validator: DestinationValidator, manager: DestinationManager): Promise<void>;
  close(): Promise<void>;
}

const none: Destinations = {
  manager: undefined,
  setIngesters: async () => {},
  start: () => {},
  close: async () => {},
};

export async function createDestinations(deps: DestinationDeps): Promise<Destinations> {
  const log = deps.log.child({ component: 'destinations' });
  const validator = new DestinationValidator({ ajv: deps.ajv, types: destinationTypeTable(deps.plugins) });
  let state: DeliveryState;
  let secrets: SecretReader;
  if (deps.mode === 'standalone') {
    const files = loadDestinationFiles(deps.env.configDir, validator, log);
    // No Destination defined: no outbox either (a Destination added later starts from its first start).
    if (files.valid.length + files.rejected.length === 0) return none;
    if (!(deps.sink instanceof SqliteStore) || deps.sink.path === ':memory:') {
      log.warn('delivery to Destinations needs the standalone file store (ZEN_DATA_DIR); not delivering');
      return none;
    }
    state = new SqliteOutbox(deps.sink.path);
    secrets = fileSecrets;
  } else {
    if (!deps.kube) return none;
    state = deps.kube.state;
    secrets = deps.kube.secrets;
  }
  const manager = new DestinationManager({ hooks: deps.hooks, metrics: deps.metrics, log, state, secrets });
  if (deps.mode === 'standalone') {
    const { valid, rejected } = loadDestinationFiles(deps.env.configDir, validator, log);
    await manager.setDestinations(valid, rejected);
    if (valid.length + rejected.length > 0)
      log.info({ valid: valid.map((d) => d.key), rejected: rejected.length }, 'Destinations loaded');
  } else await deps.kube!.watch(validator, manager);
  return {
    manager,
    setIngesters: (active) => manager.setIngesters(active.map((a) => a.config)),
    start: (signal) => manager.start(signal),
    async close() {
      await manager.stop();
      await deps.kube?.close();
      await state.close?.();
    },
  };
}
