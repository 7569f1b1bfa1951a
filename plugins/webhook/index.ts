/**
 * The generic `webhook` source plugin: any JSON object (or array of objects, or JSON Lines) becomes Observations
 * through the field paths in the Ingester's spec.config (schema.json). Mapping rules live in map.ts. The version is
 * package.json's.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import { mapBody, type WebhookConfig } from './map.ts';

export const PLUGIN_NAME = 'webhook';

// The host validates spec.config against schema.json and applies its defaults (fields, defaults, maxItems).
export default definePlugin<WebhookConfig>({
  name: PLUGIN_NAME,
  register(api) {
    // A malformed event throws a payload error (HTTP 422 naming the field) from mapBody.
    api.hooks.onWebhook
      .for('webhook')
      .tapPromise(async (req) => mapBody(req.body, req.ingester.config, api.severityOf));
  },
});
