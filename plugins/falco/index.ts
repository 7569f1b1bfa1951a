/**
 * The `falco` source plugin: Falco alerts posted by Falco's `http_output` (json_output: true) or by Falcosidekick's
 * `webhook` output become Observations. Runs on every replica (webhook). Mapping rules live in map.ts; the choices
 * (fingerprint, eventType, batch policy, details bounds) are documented in README.md. The version is package.json's.
 */
import { definePlugin, ingesterKey } from 'zen-watcher/plugin-api';
import { type FalcoConfig, mapBody } from './map.ts';

export const PLUGIN_NAME = 'falco';

// The host validates spec.config against schema.json and applies its defaults: every FalcoConfig field is present.
export default definePlugin<FalcoConfig>({
  name: PLUGIN_NAME,
  register(api) {
    const skipped = api.metrics.counter(
      'falco_alerts_skipped_total',
      'Valid Falco alerts not turned into Observations, by reason (internal, below_min_priority).',
      ['source', 'reason'],
    );
    const log = api.log.child({ handler: 'falco' });
    api.hooks.onWebhook.for('falco').tapPromise(async (req) => {
      // A malformed alert throws a payload error (HTTP 422 naming the field) from mapBody.
      const { drafts, skipped: s } = mapBody(req.body, req.ingester.config, { jsonLines: req.jsonLines });
      const source = req.ingester.source;
      if (s.internal > 0) skipped.inc({ source, reason: 'internal' }, s.internal);
      if (s.belowMinPriority > 0) skipped.inc({ source, reason: 'below_min_priority' }, s.belowMinPriority);
      if (s.internal + s.belowMinPriority > 0)
        log.debug('skipped Falco alerts', { ingester: ingesterKey(req.ingester), ...s });
      return drafts;
    });
  },
});
