/** The source handlers the loaded plugins serve: what the Ingester validator checks `spec.plugin` against. */
import type { HandlerInfo } from '../config/validate.ts';
import type { PluginRecord } from './discover.ts';

export function handlerTable(records: readonly PluginRecord[]): Map<string, HandlerInfo> {
  const table = new Map<string, HandlerInfo>();
  for (const r of records) {
    if (r.status !== 'loaded' || !r.manifest) continue;
    for (const handler of r.manifest.sources) {
      table.set(handler, {
        handler,
        plugin: r.name,
        pluginVersion: r.version,
        ingesterTypes: r.manifest.ingesterTypes ?? ['webhook'],
        ...(r.manifest.maxBodyBytes !== undefined ? { maxBodyBytes: r.manifest.maxBodyBytes } : {}),
        ...(r.validateConfig ? { validateConfig: r.validateConfig } : {}),
      });
    }
  }
  return table;
}
