/**
 * The generic `informer` source plugin: watches the resource an Ingester names in `spec.informer.gvr` and maps
 * each object — or each element of an array inside it, or inside a JSON document held in a ConfigMap key — to
 * Observations through the field paths in `spec.config` (schema.json; the same vocabulary as the webhook plugin).
 *
 * Leader only: every Ingester's watch starts on onBecomeLeader, restarts on onIngesterChanged while leading, and
 * stops when the term's signal fires. Mapping is pure (map.ts); the watch and its writes live in watch.ts.
 */
import { definePlugin, type IngesterView, type LeaderTerm } from 'zen-watcher/plugin-api';
import { createWatchMetrics, IngesterWatch, type WatchMetrics } from './watch.ts';

export const PLUGIN_NAME = 'informer';
export const PLUGIN_VERSION = '1.0.0';

const keyOf = (v: IngesterView) => `${v.namespace}/${v.name}`;

export default definePlugin({
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  register(api) {
    let term: LeaderTerm | undefined;
    let metrics: WatchMetrics | undefined;
    const watches = new Map<string, IngesterWatch>();

    const start = (view: IngesterView, t: LeaderTerm) => {
      metrics ??= createWatchMetrics(api);
      watches.get(keyOf(view))?.stop();
      const w = new IngesterWatch(api, view, t.signal, metrics);
      watches.set(keyOf(view), w);
      if (!w.start()) watches.delete(keyOf(view));
    };
    const stopAll = () => {
      for (const w of watches.values()) w.stop();
      watches.clear();
    };

    api.hooks.onBecomeLeader.tapPromise(async (t) => {
      stopAll();
      term = t;
      t.signal.addEventListener(
        'abort',
        () => {
          if (term === t) {
            term = undefined;
            stopAll();
          }
        },
        { once: true },
      );
      for (const view of api.ingesters()) start(view, t);
    });

    api.hooks.onIngesterChanged.tapPromise(async (change) => {
      if (!term || term.signal.aborted) return; // followers watch nothing; the next leader starts from api.ingesters()
      const key = keyOf(change.ingester);
      if (change.type === 'removed') {
        watches.get(key)?.stop();
        watches.delete(key);
        return;
      }
      start(change.ingester, term);
    });

    api.hooks.onStop.tapPromise(async () => {
      term = undefined;
      stopAll();
    });
  },
});
