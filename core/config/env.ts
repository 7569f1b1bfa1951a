/**
 * The only place that reads process.env. Each variable is parsed once into a typed, frozen object; a bad value is
 * an error naming the variable. The table of all variables is in core/config/README.md and docs/CONFIGURATION.md.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, ZwError } from '../api/errors.ts';

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
  /** Occurrence counts: at most one status write per Observation per this interval (ms). */
  occurrenceFlushMs: number;
  hookTimeoutMs: number;
  /** Uncontained plugin faults within pluginFaultWindowMs that disable the plugin (core/host/plugin-faults.ts). */
  pluginFaultLimit: number;
  pluginFaultWindowMs: number;
  shutdownTimeoutMs: number;
  gcIntervalSeconds: number;
  ackWaitMs: number;
  /**
   * What a webhook is answered when its writes are still going after `ackWaitMs` (ADR 0005): `retry` (default) 503
   * `ZW_ERR_WRITE_PENDING` + Retry-After, nothing acknowledged; `accept` 202 queued (in memory: lost on a crash).
   */
  ackPending: 'retry' | 'accept';
  /** Where the standalone store commits: on a worker thread (default) or on the event loop (ZEN_STORE_WRITER). */
  storeWriter: 'worker' | 'inline';
  /** Webhook hardening (docs/SECURITY.md). */
  clientRateLimitRps: number;
  clientRateLimitBurst: number;
  trustedProxyCidrs: string[];
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  tlsClientCaFile: string | undefined;
  maxUrlBytes: number;
  maxHeaderBytes: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  logPayloads: boolean;
  maxQueuePerSource: number;
  /** How long an informer finding must be missing before its Observation is resolved. */
  resolveAfterMs: number;
  kubeconfig: string | undefined;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Lease name; sharded installs (WATCH_NAMESPACE set) default to a per-namespace-set name. */
  leaderElectionId: string;
  kubeWriteQps: number;
  kubeWriteBurst: number;
  podName: string | undefined;
  podNamespace: string | undefined;
  watchNamespaces: string[];
  /** Shard slots of informer work (ADR 0020); 1 = not sharded: informer work runs on the leader. */
  shardSlots: number;
  /**
   * Sharded: most namespaces one sharded informer watches one by one (ADR 0025); past it, cluster-wide with the
   * ownership filter. 0 = always cluster-wide.
   */
  shardNamespaceWatches: number;
  /** Append every shard slot acquire/release as a JSON line to this file (tests, debugging). */
  shardTraceFile: string | undefined;
  inCluster: boolean;
  /** Read API and UI (docs/READ_API.md): own port in kubernetes mode, bearer tokens for non-loopback standalone. */
  readPort: number;
  readTokenFile: string | undefined;
  readAuthCacheSeconds: number;
  /**
   * Kubernetes mode, a replica serving a deduplicated webhook Ingester: at start, /readyz waits at most this long for
   * the read index's first list (the previous dedup bucket is answered from it); 0 = do not wait (ADR 0033).
   */
  readyIndexWaitSeconds: number;
}

/** A bad environment variable (ZW_ERR_CONFIG); `variable` names it. */
export class EnvError extends ZwError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('ZW_ERR_CONFIG', errorMessage('ZW_ERR_CONFIG', { variable, detail: message }));
    this.name = 'EnvError';
    this.variable = variable;
  }
}

/** A variable's value without surrounding whitespace; undefined when unset or blank (an empty value is unset). */
function trimmedValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

// Plain decimal only: Number() would also take '0x10', '0b1', '1e3' and ' ' (0), none of which the docs allow.
const DECIMAL_INTEGER = /^-?\d+$/;
const DECIMAL_NUMBER = /^-?(\d+(\.\d*)?|\.\d+)$/;

function int(env: NodeJS.ProcessEnv, names: string[], def: number, min: number, max: number): number {
  for (const name of names) {
    const value = trimmedValue(env, name);
    if (value === undefined) continue;
    if (!DECIMAL_INTEGER.test(value))
      throw new EnvError(name, `must be an integer in [${min}, ${max}] written in decimal digits, got '${env[name]}'`);
    const n = Number(value) || 0; // `|| 0`: '-0' is 0
    if (n < min || n > max) throw new EnvError(name, `must be an integer in [${min}, ${max}], got '${env[name]}'`);
    return n;
  }
  return def;
}

/** Fractional seconds allowed (e.g. 0.5), so tests can run the election fast. */
function seconds(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const value = trimmedValue(env, name);
  if (value === undefined) return def * 1000;
  const n = DECIMAL_NUMBER.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0 && n <= 3600))
    throw new EnvError(name, `must be a decimal number of seconds in (0, 3600], got '${env[name]}'`);
  return Math.round(n * 1000);
}

/**
 * ZEN_WEBHOOK_ACK_WAIT_MS and ZEN_WEBHOOK_ACK_PENDING together. A wait of 0 with `retry` would answer every webhook
 * 503 ZW_ERR_WRITE_PENDING, even the resend of an event already stored: a retrying sender never got a 2xx.
 */
function webhookAck(env: NodeJS.ProcessEnv): Pick<HostEnv, 'ackWaitMs' | 'ackPending'> {
  const ackPending = (trimmedValue(env, 'ZEN_WEBHOOK_ACK_PENDING') ?? 'retry').toLowerCase();
  if (ackPending !== 'retry' && ackPending !== 'accept') {
    throw new EnvError(
      'ZEN_WEBHOOK_ACK_PENDING',
      `must be retry (503 + Retry-After while the write is pending) or accept (202, in memory), got '${env.ZEN_WEBHOOK_ACK_PENDING}'`,
    );
  }
  const ackWaitMs = int(env, ['ZEN_WEBHOOK_ACK_WAIT_MS'], 5000, 0, 600_000);
  if (ackWaitMs === 0 && ackPending === 'retry') {
    throw new EnvError(
      'ZEN_WEBHOOK_ACK_WAIT_MS',
      '0 needs ZEN_WEBHOOK_ACK_PENDING=accept (answer 202 at once): with ZEN_WEBHOOK_ACK_PENDING=retry (the default) every webhook would be answered 503 ZW_ERR_WRITE_PENDING, even once its event is stored, so a retrying sender would never get a 2xx; set 1 or more, or ZEN_WEBHOOK_ACK_PENDING=accept',
    );
  }
  return { ackWaitMs, ackPending: ackPending as HostEnv['ackPending'] };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function leaderElectionId(env: NodeJS.ProcessEnv, namespaces: string[]): string {
  const explicit = env.ZEN_LEADER_ELECTION_ID || env.LEADER_ELECTION_ID;
  if (explicit) {
    if (!DNS_LABEL.test(explicit) || explicit.length > 63)
      throw new EnvError('ZEN_LEADER_ELECTION_ID', `must be a DNS label, got '${explicit}'`);
    return explicit;
  }
  if (namespaces.length === 0) return 'zen-watcher-leader-election';
  // One lease per namespace set, so sharded instances elect their leaders independently (HA model option 3).
  const digest = createHash('sha256')
    .update([...namespaces].sort().join(','))
    .digest('hex')
    .slice(0, 10);
  return `zen-watcher-leader-election-${digest}`;
}

function cidrs(env: NodeJS.ProcessEnv): string[] {
  const raw = env.ZEN_TRUSTED_PROXY_CIDRS || env.SERVER_TRUSTED_PROXY_CIDRS || '';
  const list = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const entry of list) {
    const [addr, bits, extra] = entry.split('/');
    const v = isIP(addr ?? '');
    const max = v === 6 ? 128 : 32;
    if (v === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
      throw new EnvError('ZEN_TRUSTED_PROXY_CIDRS', `'${entry}' is not an IP address or CIDR`);
    }
  }
  return list;
}

function tls(env: NodeJS.ProcessEnv) {
  const cert = env.ZEN_TLS_CERT_FILE || undefined;
  const key = env.ZEN_TLS_KEY_FILE || undefined;
  const ca = env.ZEN_TLS_CLIENT_CA_FILE || undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new EnvError(
      cert ? 'ZEN_TLS_KEY_FILE' : 'ZEN_TLS_CERT_FILE',
      'TLS needs both ZEN_TLS_CERT_FILE and ZEN_TLS_KEY_FILE',
    );
  }
  if (ca && !cert)
    throw new EnvError(
      'ZEN_TLS_CLIENT_CA_FILE',
      'client certificates (mTLS) need TLS: set ZEN_TLS_CERT_FILE and ZEN_TLS_KEY_FILE',
    );
  return { cert, key, ca };
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Readonly<HostEnv> {
  const t = tls(env);
  const mode = (env.ZEN_MODE || 'auto').toLowerCase();
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new EnvError(
      'LOG_LEVEL',
      `must be one of fatal, error, warn, info, debug, trace, silent; got '${env.LOG_LEVEL}'`,
    );
  }
  if (mode !== 'auto' && mode !== 'standalone' && mode !== 'kubernetes') {
    throw new EnvError('ZEN_MODE', `must be auto, standalone or kubernetes, got '${env.ZEN_MODE}'`);
  }
  const ack = webhookAck(env);
  const storeWriter = (env.ZEN_STORE_WRITER || 'worker').trim().toLowerCase();
  if (storeWriter !== 'worker' && storeWriter !== 'inline') {
    throw new EnvError(
      'ZEN_STORE_WRITER',
      `must be worker (standalone store commits on a worker thread) or inline (on the event loop), got '${env.ZEN_STORE_WRITER}'`,
    );
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
    logLevel,
    maxBodyBytes: int(env, ['ZEN_MAX_BODY_BYTES', 'SERVER_MAX_REQUEST_BYTES'], 1_048_576, 1, 268_435_456),
    maxDetailsBytes: int(env, ['ZEN_MAX_DETAILS_BYTES'], 16_384, 256, 1_048_576),
    defaultTtlSeconds: int(env, ['ZEN_OBSERVATION_TTL_SECONDS', 'OBSERVATION_TTL_SECONDS'], 604_800, 60, 31_536_000),
    dedupMaxEntries: int(env, ['ZEN_DEDUP_MAX_ENTRIES', 'DEDUP_MAX_SIZE'], 100_000, 1, 10_000_000),
    dedupWindowSeconds: int(env, ['ZEN_DEDUP_WINDOW_SECONDS', 'DEDUP_WINDOW_SECONDS'], 60, 0, 31_536_000),
    maxQueue: int(env, ['ZEN_MAX_QUEUE'], 10_000, 1, 10_000_000),
    occurrenceFlushMs: int(env, ['ZEN_OCCURRENCE_FLUSH_SECONDS'], 5, 1, 3600) * 1000,
    hookTimeoutMs: int(env, ['ZEN_HOOK_TIMEOUT_SECONDS'], 10, 1, 3600) * 1000,
    pluginFaultLimit: int(env, ['ZEN_PLUGIN_FAULT_LIMIT'], 5, 1, 1_000_000),
    pluginFaultWindowMs: int(env, ['ZEN_PLUGIN_FAULT_WINDOW_SECONDS'], 600, 1, 86_400) * 1000,
    shutdownTimeoutMs: int(env, ['ZEN_SHUTDOWN_TIMEOUT_SECONDS', 'HTTP_SHUTDOWN_TIMEOUT_SECONDS'], 10, 1, 3600) * 1000,
    gcIntervalSeconds: int(env, ['ZEN_GC_INTERVAL_SECONDS'], 3600, 1, 86_400 * 7),
    ...ack,
    storeWriter: storeWriter as HostEnv['storeWriter'],
    clientRateLimitRps: int(env, ['ZEN_CLIENT_RATE_LIMIT_RPS'], 200, 0, 1_000_000),
    clientRateLimitBurst: int(env, ['ZEN_CLIENT_RATE_LIMIT_BURST'], 400, 1, 10_000_000),
    trustedProxyCidrs: cidrs(env),
    tlsCertFile: t.cert,
    tlsKeyFile: t.key,
    tlsClientCaFile: t.ca,
    maxUrlBytes: int(env, ['ZEN_MAX_URL_BYTES'], 2048, 64, 65_536),
    maxHeaderBytes: int(env, ['ZEN_MAX_HEADER_BYTES'], 16_384, 1024, 1_048_576),
    requestTimeoutMs: seconds(env, 'ZEN_REQUEST_TIMEOUT_SECONDS', 30),
    headersTimeoutMs: seconds(env, 'ZEN_HEADERS_TIMEOUT_SECONDS', 10),
    idleTimeoutMs: seconds(env, 'ZEN_IDLE_TIMEOUT_SECONDS', 5),
    logPayloads: ['1', 'true', 'yes'].includes((env.ZEN_LOG_PAYLOADS ?? '').toLowerCase()),
    maxQueuePerSource: int(env, ['ZEN_MAX_QUEUE_PER_SOURCE'], 5_000, 1, 10_000_000),
    resolveAfterMs: int(env, ['ZEN_RESOLVE_AFTER_SECONDS'], 600, 0, 30 * 86_400) * 1000,
    kubeconfig: env.KUBECONFIG || undefined,
    leaseDurationMs: seconds(env, 'ZEN_LEASE_DURATION_SECONDS', 15),
    renewDeadlineMs: seconds(env, 'ZEN_RENEW_DEADLINE_SECONDS', 10),
    retryPeriodMs: seconds(env, 'ZEN_RETRY_PERIOD_SECONDS', 2),
    leaderElectionId: leaderElectionId(env, split(env.WATCH_NAMESPACE, ',')),
    kubeWriteQps: int(env, ['ZEN_KUBE_WRITE_QPS'], 1000, 1, 100_000),
    kubeWriteBurst: int(env, ['ZEN_KUBE_WRITE_BURST'], 200, 1, 1_000_000),
    podName: env.POD_NAME || undefined,
    podNamespace: env.POD_NAMESPACE || undefined,
    watchNamespaces: split(env.WATCH_NAMESPACE, ','),
    shardSlots: int(env, ['ZEN_SHARD_SLOTS'], 16, 1, 256),
    shardNamespaceWatches: int(env, ['ZEN_SHARD_NAMESPACE_WATCHES'], 64, 0, 10_000),
    shardTraceFile: env.ZEN_SHARD_TRACE_FILE ? resolve(env.ZEN_SHARD_TRACE_FILE) : undefined,
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT),
    // With an ephemeral PORT (tests, several replicas on one machine) the read port is ephemeral too unless set.
    readPort: int(
      env,
      ['ZEN_READ_PORT'],
      int(env, ['PORT', 'WATCHER_PORT'], 8080, 0, 65535) === 0 ? 0 : 8081,
      0,
      65535,
    ),
    readTokenFile: env.ZEN_READ_TOKEN_FILE ? resolve(env.ZEN_READ_TOKEN_FILE) : undefined,
    readAuthCacheSeconds: int(env, ['ZEN_READ_AUTH_CACHE_SECONDS'], 10, 0, 3600),
    readyIndexWaitSeconds: int(env, ['ZEN_READY_INDEX_WAIT_SECONDS'], 30, 0, 3600),
  });
}

/** The test kit's log level (`ZEN_TESTKIT_LOG`, default `silent`): used only by loadTestPlugin, never the host. */
export function testkitLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  return env.ZEN_TESTKIT_LOG || 'silent';
}
