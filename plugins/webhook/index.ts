/**
 * The generic `webhook` source plugin: any JSON object (or array of objects, or JSON Lines) becomes Observations
 * through the field paths in the Ingester's spec.config (schema.json). Mapping rules live in map.ts.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import { MappingError, mapBody, type WebhookConfig } from './map.ts';

const PLUGIN_NAME = 'webhook';

export default definePlugin({
  name: PLUGIN_NAME,
  version: '1.0.0',
  register(api) {
    api.hooks.onWebhook.for('webhook').tapPromise(async (req) => {
      const cfg = req.ingester.config as unknown as WebhookConfig;
      try {
        return mapBody(req.body, cfg, api.severityOf);
      } catch (err) {
        if (err instanceof MappingError) throw api.payloadError(err.message, err.field);
        throw err;
      }
    });
  },
});
