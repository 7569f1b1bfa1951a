/**
 * `zen-watcher plugins list`: what the loader finds, and whether each would load, without starting the host; and,
 * while a host that uses the same ZEN_DATA_DIR runs, what happened to its plugins since (faults, disabled).
 */
import { HOST_API_VERSION } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createAjv } from '../config/validate.ts';
import { createHostHooks } from '../hooks/host-hooks.ts';
import { createPluginContext } from '../host/plugin-facade.ts';
import { PluginFaults } from '../host/plugin-faults.ts';
import { readLivePluginStatus } from '../host/plugin-status-file.ts';
import { discoverPlugins, importAndRegister, registerPluginApiSpecifier } from '../loader/index.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { printableJson } from './printable.ts';
import { table } from './table.ts';

export async function pluginsList(
  env: Readonly<HostEnv>,
  output = 'table',
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  registerPluginApiSpecifier();
  const records = discoverPlugins([env.builtinPluginDir, ...env.pluginDirs], {
    ajv: createAjv(),
    hostApiVersion: HOST_API_VERSION,
  });
  // Import and register each admitted plugin against throwaway hooks, so a plugin whose code fails shows `failed`.
  const hooks = createHostHooks();
  const log = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  // An error that escapes a plugin's import or register fails that plugin here too, instead of ending the command.
  const faults = new PluginFaults(records, { log, metrics, limit: Number.MAX_SAFE_INTEGER });
  for (const r of records) {
    await importAndRegister(
      r,
      (rec) =>
        createPluginContext(rec, {
          hooks,
          log,
          metrics,
          kube: undefined,
          ingesters: () => [],
          emit: async () => ({ created: 0, duplicates: 0, filtered: 0, dropped: 0 }),
          reconcile: async () => ({
            created: 0,
            duplicates: 0,
            filtered: 0,
            dropped: 0,
            missing: 0,
            resolved: 0,
            reactivated: 0,
          }),
          reconcileScopes: async () => {},
        }),
      env.hookTimeoutMs,
      faults,
    );
  }
  const live = readLivePluginStatus(env.dataDir);
  const rows = records.map((r) => {
    const row = {
      name: r.name,
      version: r.version,
      status: r.status as string,
      sources: r.manifest?.sources.join(',') ?? '',
      destinations: r.manifest?.destinations?.join(',') ?? '',
      directory: r.dir,
      reason: r.reason,
    };
    // The running host's view wins for a plugin it disabled or that had faults there.
    const now = live?.plugins.find((p) => p.name === r.name && p.dir === r.dir);
    if (now?.status === 'disabled') {
      row.status = 'disabled';
      row.reason = `${now.reason} (running host pid ${live!.pid})`;
    } else if (now && now.faults > 0 && row.status === 'loaded') {
      row.reason = `${now.faults} uncontained fault(s) in the running host (pid ${live!.pid}); last: ${now.lastFault ?? '?'}`;
    }
    return row;
  });
  if (output === 'json') out.write(`${printableJson(rows)}\n`);
  else if (output === 'table')
    out.write(
      table(
        ['NAME', 'VERSION', 'STATUS', 'SOURCES', 'DESTINATIONS', 'DIRECTORY', 'REASON'],
        rows.map((r) => [r.name, r.version, r.status, r.sources, r.destinations, r.directory, r.reason]),
      ),
    );
  else {
    process.stderr.write(`zen-watcher plugins list: -o must be table or json, got '${output}'\n`);
    return 2;
  }
  return 0;
}
