/**
 * `zen-watcher plugins list`: what the loader finds, and whether each would load, without starting the host; and,
 * while a host that uses the same ZEN_DATA_DIR runs, what happened to its plugins since (faults, disabled).
 */
import type { HostEnv } from '../config/env.ts';
import { createHostCore } from '../host/core.ts';
import { readLivePluginStatus } from '../host/plugin-status-file.ts';
import { type ObservationSink, SinkWriteError } from '../sinks/types.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { printableJson } from './printable.ts';
import { table } from './table.ts';

/** `plugins list` writes nothing: a sink that refuses, so the core is the host's own. */
const noSink: ObservationSink = {
  kind: 'sqlite',
  write: async () => {
    throw new SinkWriteError('zen-watcher plugins list writes no Observations', {
      retryable: false,
      reason: 'read_only',
    });
  },
  ready: () => false,
  close: async () => {},
};

export async function pluginsList(
  env: Readonly<HostEnv>,
  output = 'table',
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  // The host's own core: a plugin whose code fails to import or register shows `failed`, as the host would see it.
  const core = createHostCore({
    env,
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
    sink: noSink,
    kube: undefined,
    index: undefined,
    canActAsLeader: () => false,
    // An error that escapes a plugin's import or register fails that plugin here too, instead of ending the command.
    faults: { limit: Number.MAX_SAFE_INTEGER },
  });
  const records = await core.loadPlugins([env.builtinPluginDir, ...env.pluginDirs]);
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
