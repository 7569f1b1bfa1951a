/**
 * The generic `informer` source plugin: watches the resource an Ingester names in `spec.informer.gvr` and maps
 * each object — or each element of an array inside it, or inside a JSON document held in a ConfigMap key — to
 * Observations through the field paths in `spec.config` (schema.json; the same vocabulary as the webhook plugin).
 *
 * Leader only: the host runs one IngesterWatch per Ingester (api.leaderWork, plugin API 1.2.0): started on the
 * leader, restarted when the Ingester changes, stopped at the end of the term. Mapping is pure (map.ts); the watch
 * and its writes live in watch.ts.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import type { InformerConfig } from './config.ts';
import { createWatchMetrics, IngesterWatch, type WatchMetrics } from './watch.ts';

export const PLUGIN_NAME = 'informer';

// The host validates spec.config against schema.json and applies its defaults: InformerConfig is derived from it.
export default definePlugin<InformerConfig>({
  name: PLUGIN_NAME,
  register(api) {
    let metrics: WatchMetrics | undefined;
    // Plugin API 1.2.0: the host starts a watch per informer Ingester on the leader, restarts it when the Ingester
    // changes and stops it when the Ingester goes, the term ends or the host stops.
    api.leaderWork({
      handler: 'informer',
      start(view, run) {
        metrics ??= createWatchMetrics(api);
        new IngesterWatch(api, view, run, metrics).start();
      },
    });
  },
});
