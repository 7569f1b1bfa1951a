/**
 * The `kyverno` source plugin: policy reports (wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport,
 * openreports.io/v1alpha1 Report and ClusterReport) written by Kyverno or any other policy engine become
 * Observations. Informer source, leader only: the watches start in onBecomeLeader and stop with the term's signal.
 * Mapping (map.ts) and the per-Ingester watch and resolution (watch.ts) are documented in README.md.
 */
import { definePlugin, type IngesterView, type LeaderTerm } from 'zen-watcher/plugin-api';
import { createMetrics, IngesterRunner } from './watch.ts';

export const PLUGIN_NAME = 'kyverno';
export const PLUGIN_VERSION = '1.1.0';
export const HANDLER = 'kyverno';

export default definePlugin({
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  register(api) {
    const metrics = createMetrics(api);
    // The host's namespace restriction (plugin API 1.1.0): it scopes every plugin informer to these namespaces, so
    // cluster-scoped report kinds cannot be listed (see README, Limitations).
    const watchNamespaces = api.kube?.watchNamespaces ?? [];
    const log = api.log.child({ handler: HANDLER });
    /** The current leader term and its runners (one per informer Ingester). */
    let term: { signal: AbortSignal; runners: Map<string, IngesterRunner> } | undefined;
    const keyOf = (v: IngesterView) => `${v.namespace}/${v.name}`;
    const serves = (v: IngesterView) => v.handler === HANDLER && v.ingester === 'informer';

    const start = (view: IngesterView) => {
      if (!term || term.signal.aborted || !serves(view)) return;
      const runner = new IngesterRunner(view, api, metrics, term.signal, { watchNamespaces });
      term.runners.set(keyOf(view), runner);
      log.info('watching policy reports', { ingester: keyOf(view) });
      runner.start();
    };
    const stop = (view: IngesterView, reason: string) => {
      const runner = term?.runners.get(keyOf(view));
      if (!runner) return;
      runner.stop(reason);
      term?.runners.delete(keyOf(view));
    };

    api.hooks.onBecomeLeader.tapPromise(async (t: LeaderTerm) => {
      const current = { signal: t.signal, runners: new Map<string, IngesterRunner>() };
      term = current;
      t.signal.addEventListener(
        'abort',
        () => {
          if (term === current) term = undefined;
        },
        { once: true },
      );
      // Start only: the informers run in the background until the term's signal aborts.
      for (const view of api.ingesters(HANDLER)) start(view);
    });

    api.hooks.onLoseLeadership.tapPromise(async (t: LeaderTerm) => {
      if (term?.signal !== t.signal) return;
      for (const r of term.runners.values()) r.stop('leadership lost');
      term = undefined;
    });

    api.hooks.onIngesterChanged.tapPromise(async (change) => {
      if (!term) return; // followers do nothing; the next leader reads api.ingesters()
      if (change.previous) stop(change.previous, `Ingester ${change.type}`);
      stop(change.ingester, `Ingester ${change.type}`);
      if (change.type !== 'removed') start(change.ingester);
    });
  },
});
