/**
 * The `kube-bench` source plugin (an external example, loaded through ZEN_PLUGIN_DIRS): each node's kube-bench Job
 * POSTs its `kube-bench run --json` report to an Ingester's webhook path, naming the node in a header; each failing
 * or warning CIS check becomes an Observation about that Node. Runs on every replica (webhook). Mapping rules live in
 * map.ts; a malformed report is refused whole with 422 naming the field.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import { type KubeBenchConfig, mapReport, nodeOf, STATUSES } from './map.ts';

export const NAME = 'kube-bench';

// The host validates spec.config against schema.json and applies its defaults before the tap sees it.
export default definePlugin<KubeBenchConfig>({
  name: NAME,
  register(api) {
    const checks = api.metrics.counter(
      'kube_bench_checks_total',
      'CIS checks received in kube-bench reports, by status and whether they became Observations.',
      ['source', 'status', 'result'],
    );
    api.hooks.onWebhook.for(NAME).tapPromise(async (req) => {
      const config = req.ingester.config;
      // A malformed report throws payloadError (HTTP 422 naming the field) from mapReport or nodeOf.
      const node = nodeOf(req.headers, config.nodeHeader);
      const { drafts, checks: counts, reported } = mapReport(req.body, config, node);
      const source = req.ingester.source;
      for (const status of STATUSES) {
        if (reported[status] > 0) checks.inc({ source, status, result: 'reported' }, reported[status]);
        const skipped = counts[status] - reported[status];
        if (skipped > 0) checks.inc({ source, status, result: 'skipped' }, skipped);
      }
      return drafts;
    });
  },
});
