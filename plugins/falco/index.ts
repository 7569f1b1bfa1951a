/**
 * The `falco` source plugin: Falco alerts posted by Falco's `http_output` (json_output: true) or by Falcosidekick's
 * `webhook` output become Observations. Runs on every replica (webhook). Mapping rules live in map.ts; the choices
 * (fingerprint, eventType, batch policy, details bounds) are documented in README.md.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import { MappingError, mapBody, resolveConfig } from './map.ts';

export const PLUGIN_NAME = 'falco';
export const PLUGIN_VERSION = '1.1.0';

export default definePlugin({
  name: PLUGIN_NAME,
  version: PLUGIN_VERSION,
  register(api) {
    const skipped = api.metrics.counter(
      'falco_alerts_skipped_total',
      'Valid Falco alerts not turned into Observations, by reason (internal, below_min_priority).',
      ['source', 'reason'],
    );
    const log = api.log.child({ handler: 'falco' });
    api.hooks.onWebhook.for('falco').tapPromise(async (req) => {
      const config = resolveConfig(req.ingester.config);
      try {
        const { drafts, skipped: s } = mapBody(req.body, config, { jsonLines: req.jsonLines });
        const source = req.ingester.source;
        if (s.internal > 0) skipped.inc({ source, reason: 'internal' }, s.internal);
        if (s.belowMinPriority > 0) skipped.inc({ source, reason: 'below_min_priority' }, s.belowMinPriority);
        if (s.internal + s.belowMinPriority > 0) {
          log.debug('skipped Falco alerts', { ingester: `${req.ingester.namespace}/${req.ingester.name}`, ...s });
        }
        return drafts;
      } catch (err) {
        if (err instanceof MappingError) throw api.payloadError(err.message, err.field);
        throw err;
      }
    });
  },
});
