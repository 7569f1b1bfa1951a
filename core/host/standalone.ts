/**
 * Standalone mode: Ingesters from YAML/JSON files in ZEN_CONFIG_DIR, Observations in a node:sqlite store, and
 * this process as the only replica (it leads for its whole life; TTL expiry runs on that term).
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LeaderTerm } from '../api/index.ts';
import { ZwError } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { type Rejected, resolveConflicts } from '../config/ingester-set.ts';
import { configFilesIn, readDocuments } from '../config/load-files.ts';
import type { IngesterConfig, IngesterValidator } from '../config/validate.ts';
import { isDestinationDocument } from '../destinations/validate.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { LeadershipCallbacks, ModeRuntime } from './runtime.ts';

export function createStandaloneRuntime(
  env: Readonly<HostEnv>,
  log: Logger,
  sinkOverride?: ObservationSink,
  metrics?: Metrics,
): ModeRuntime {
  const sink = sinkOverride ?? openStore(env.dataDir, log, metrics, undefined, env.storeWriter);
  let term:
    | { controller: AbortController; term: LeaderTerm; callbacks: LeadershipCallbacks; gc: Promise<void> }
    | undefined;
  return {
    sink,
    kube: undefined,
    index: undefined,
    secretCredentials: undefined,
    async startIngesters(feed) {
      const { valid, origins, rejected } = loadIngesterFiles(env.configDir, feed.validator, log);
      const resolved = resolveConflicts(valid, origins);
      await feed.apply(resolved.active, [...rejected, ...resolved.rejected]);
    },
    startLeadership(callbacks) {
      const controller = new AbortController();
      const t: LeaderTerm = { signal: controller.signal, identity: env.podName ?? hostname(), startedAt: Date.now() };
      const gc = runStoreExpiry(sink, env.gcIntervalSeconds * 1000, controller.signal, log);
      term = { controller, term: t, callbacks, gc };
      void callbacks.started(t);
    },
    canActAsLeader: () => term !== undefined && !term.controller.signal.aborted,
    live: () => ({ ok: true }),
    async stopLeadership(reason) {
      if (!term || term.controller.signal.aborted) return;
      term.controller.abort(new ZwError('ZW_ERR_ABORTED', reason));
      await term.gc;
      await term.callbacks.stopped(term.term);
    },
    close: () => sink.close(),
  };
}

/**
 * The store, with its outages logged (once each, at error level, with SQLite's cause) and in metrics. Refuses a
 * corrupt store (StoreOpenError: the host does not start).
 */
export function openStore(
  dir: string,
  log: Logger,
  metrics?: Metrics,
  probeIntervalMs?: number,
  writer: 'worker' | 'inline' = 'worker',
): SqliteStore {
  const t0 = performance.now();
  // Logged once: the first outage at error level with SQLite's cause; a store that flaps (a nearly full disk lets
  // small writes through) logs again at most once a minute, the rest is in the metrics and at debug.
  let loggedAt = Number.NEGATIVE_INFINITY;
  let logged = false;
  const store = new SqliteStore(dir, {
    ...(probeIntervalMs !== undefined ? { probeIntervalMs } : {}),
    writerWorker: writer === 'worker',
    onCheckpointFallback: (reason) =>
      log.warn(
        { store: store.path, reason },
        'WAL checkpoints run in the store commits again (the checkpoint worker cannot run): ingest may stall on disk syncs',
      ),
    onWriterFallback: (reason) =>
      log.warn(
        { store: store.path, reason },
        'store commits run on the event loop again (the store writer worker cannot run): ingest uses one core',
      ),
    onWriteFailure: (reason, probe) => metrics?.storeWriteFailures.inc({ reason, probe: String(probe) }),
    onCheckpoint: (r) => {
      metrics?.storeWalFrames.set(r.log);
      metrics?.storeCheckpoints.inc({ pass: r.tail ? 'tail' : 'regular' });
    },
    onUnwritable: (f) => {
      metrics?.storeWritable.set(0);
      const detail = { store: store.path, reason: f.reason, cause: f.message };
      // A damaged page is reported once per start whatever came before (it does not heal: the store keeps it).
      logged = f.reason === 'store_corrupt' || Date.now() - loggedAt > 60_000;
      if (!logged) return log.debug(detail, 'the store cannot write again');
      loggedAt = Date.now();
      log.error(
        detail,
        f.reason === 'store_corrupt'
          ? `the store cannot write (store_corrupt: ${f.message}): a damaged page does not heal, so /readyz stays not ready until zen-watcher is restarted on a sound store (move ${store.path} and its -wal and -shm files aside, or restore a backup). Writes that reach the damage are answered 503 with Retry-After; the others are still stored`
          : `the store cannot write (${f.reason}: ${f.message}): webhooks are answered 503 with Retry-After and /readyz is not ready until a write succeeds again (probed every second). Failures are counted in zen_watcher_store_write_failures_total, refused events in zen_watcher_observations_refused_total`,
      );
    },
    onWritable: (f, downMs) => {
      metrics?.storeWritable.set(1);
      log[logged ? 'info' : 'debug'](
        { store: store.path, reason: f.reason, downMs },
        'the store can write again: ready',
      );
    },
  });
  metrics?.storeWritable.set(1);
  log.info(
    { store: store.path, checkMs: Math.round(performance.now() - t0) },
    'standalone store opened (integrity check passed)',
  );
  return store;
}

export function loadIngesterFiles(
  dir: string,
  validator: IngesterValidator,
  log: Logger,
): { valid: IngesterConfig[]; origins: string[]; rejected: Rejected[] } {
  const valid: IngesterConfig[] = [];
  const origins: string[] = []; // where each of `valid` came from, for resolveConflicts' messages
  const rejected: Rejected[] = [];
  let files: string[] = [];
  try {
    files = configFilesIn(dir);
  } catch (err) {
    log.warn({ dir, err: (err as Error).message }, 'cannot read ZEN_CONFIG_DIR; starting with no Ingesters');
  }
  for (const file of files) {
    for (const d of readDocuments(file)) {
      if (d.parseError) {
        rejected.push({
          key: d.origin,
          source: 'unknown',
          reason: 'InvalidConfig',
          errors: [{ path: '(document)', message: d.parseError }],
        });
        continue;
      }
      if (isDestinationDocument(d.doc)) continue; // read by core/destinations
      const res = validator.validate(d.doc);
      if (!res.ok) {
        const source = (d.doc as { spec?: { source?: unknown } })?.spec?.source;
        rejected.push({
          key: d.origin,
          source: typeof source === 'string' ? source : 'unknown',
          reason: res.reason,
          errors: res.errors,
        });
      } else if (res.ingester.spec.ingester === 'informer') {
        rejected.push({
          key: res.ingester.key,
          source: res.ingester.spec.source,
          reason: 'NeedsKubernetes',
          errors: [
            {
              path: 'spec.ingester',
              message: 'informer Ingesters need kubernetes mode (ZEN_MODE=kubernetes); skipped in standalone mode',
            },
          ],
        });
      } else {
        valid.push(res.ingester);
        origins.push(d.origin);
      }
    }
  }
  return { valid, origins, rejected };
}

/** Expired Observations deleted per statement; a full batch means more may be due, so the pass continues. */
export const EXPIRY_BATCH = 500;

async function runStoreExpiry(
  sink: ObservationSink,
  intervalMs: number,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  if (!sink.deleteExpired) return;
  while (!signal.aborted) {
    try {
      let n: number;
      do n = sink.deleteExpired(Date.now(), EXPIRY_BATCH);
      while (n === EXPIRY_BATCH && !signal.aborted);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'standalone TTL expiry failed');
    }
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return;
    }
  }
}
