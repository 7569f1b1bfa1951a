/**
 * The only place that reads process.env. Each variable is parsed once into a typed, frozen object; a bad value is
 * an error naming the variable. The table of all variables is in core/config/README.md and docs/CONFIGURATION.md.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export type ModeSetting = 'auto' | 'standalone' | 'kubernetes';

export interface HostEnv {
  mode: ModeSetting;
  port: number;
  host: string;
  configDir: string;
  dataDir: string;
  pluginDirs: string[];
  builtinPluginDir: string;
  logLevel: string;
  maxBodyBytes: number;
  maxDetailsBytes: number;
  defaultTtlSeconds: number;
  dedupMaxEntries: number;
  dedupWindowSeconds: number;
  maxQueue: number;
  hookTimeoutMs: number;
  shutdownTimeoutMs: number;
  gcIntervalSeconds: number;
  ackWaitMs: number;
  podName: string | undefined;
  podNamespace: string | undefined;
  watchNamespaces: string[];
  inCluster: boolean;
}

export class EnvError extends Error {
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'EnvError';
  }
}

function int(env: NodeJS.ProcessEnv, names: string[], def: number, min: number, max: number): number {
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new EnvError(name, `must be an integer in [${min}, ${max}], got '${raw}'`);
    return n;
  }
  return def;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Readonly<HostEnv> {
  const mode = (env.ZEN_MODE ?? 'auto').toLowerCase();
  if (mode !== 'auto' && mode !== 'standalone' && mode !== 'kubernetes') {
    throw new EnvError('ZEN_MODE', `must be auto, standalone or kubernetes, got '${env.ZEN_MODE}'`);
  }
  const split = (v: string | undefined, sep: string | RegExp) =>
    (v ?? '')
      .split(sep)
      .map((s) => s.trim())
      .filter(Boolean);
  return Object.freeze({
    mode: mode as ModeSetting,
    port: int(env, ['PORT', 'WATCHER_PORT'], 8080, 0, 65535),
    host: env.ZEN_LISTEN_HOST || '0.0.0.0',
    configDir: resolve(env.ZEN_CONFIG_DIR || resolve(REPO_ROOT, 'config/standalone')),
    dataDir: resolve(env.ZEN_DATA_DIR || '.zen-watcher'),
    pluginDirs: split(env.ZEN_PLUGIN_DIRS, ':').map((p) => resolve(p)),
    builtinPluginDir: resolve(env.ZEN_BUILTIN_PLUGIN_DIR || resolve(REPO_ROOT, 'plugins')),
    logLevel: (env.LOG_LEVEL || 'info').toLowerCase(),
    maxBodyBytes: int(env, ['ZEN_MAX_BODY_BYTES', 'SERVER_MAX_REQUEST_BYTES'], 1_048_576, 1, 268_435_456),
    maxDetailsBytes: int(env, ['ZEN_MAX_DETAILS_BYTES'], 16_384, 256, 1_048_576),
    defaultTtlSeconds: int(env, ['ZEN_OBSERVATION_TTL_SECONDS', 'OBSERVATION_TTL_SECONDS'], 604_800, 60, 31_536_000),
    dedupMaxEntries: int(env, ['ZEN_DEDUP_MAX_ENTRIES', 'DEDUP_MAX_SIZE'], 100_000, 1, 10_000_000),
    dedupWindowSeconds: int(env, ['ZEN_DEDUP_WINDOW_SECONDS', 'DEDUP_WINDOW_SECONDS'], 60, 0, 31_536_000),
    maxQueue: int(env, ['ZEN_MAX_QUEUE'], 10_000, 1, 10_000_000),
    hookTimeoutMs: int(env, ['ZEN_HOOK_TIMEOUT_SECONDS'], 10, 1, 3600) * 1000,
    shutdownTimeoutMs: int(env, ['ZEN_SHUTDOWN_TIMEOUT_SECONDS', 'HTTP_SHUTDOWN_TIMEOUT_SECONDS'], 10, 1, 3600) * 1000,
    gcIntervalSeconds: int(env, ['ZEN_GC_INTERVAL_SECONDS'], 3600, 1, 86_400 * 7),
    ackWaitMs: int(env, ['ZEN_WEBHOOK_ACK_WAIT_MS'], 5000, 0, 600_000),
    podName: env.POD_NAME || undefined,
    podNamespace: env.POD_NAMESPACE || undefined,
    watchNamespaces: split(env.WATCH_NAMESPACE, ','),
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT),
  });
}
