/**
 * Getting at the cluster: load a KubeConfig, prove the API server answers, ask discovery whether a resource is
 * served, and a thin object-style API for custom objects (list / get / create / delete / patch).
 */
import { existsSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, ZwError, zwError } from '../api/errors.ts';
import { liteFromCluster, liteFromDefault, liteFromFile } from './kubeconfig.ts';
import { clientNode, errorText, groupVersionPath, KubeConnection, statusOf } from './request.ts';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** No usable kubeconfig: nothing configured, a file that does not load, or no in-cluster credentials. */
export class KubeConfigError extends ZwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ZW_ERR_KUBE_CONFIG', errorMessage('ZW_ERR_KUBE_CONFIG', { detail: message }), options);
    this.name = 'KubeConfigError';
  }
}

/** The API server did not answer, or refused us. `server` names it. */
export class KubeUnreachableError extends ZwError {
  readonly server: string;
  /** The API server's HTTP status, when it answered (401/403: refused us). */
  readonly apiStatus: number | undefined;
  constructor(server: string, message: string, options?: { cause?: unknown; status?: number }) {
    super('ZW_ERR_KUBE_UNREACHABLE', message, { cause: options?.cause });
    this.name = 'KubeUnreachableError';
    this.server = server;
    this.apiStatus = options?.status;
  }
}

export interface LoadKubeConfigOptions {
  /** A kubeconfig file (the host passes `KUBECONFIG` here). Wins over `inCluster`. */
  kubeconfigPath?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST/PORT and the mounted token). */
  inCluster?: boolean;
}

/**
 * Loads credentials for the cluster: the given file, else in-cluster, else client-node's default search
 * (KUBECONFIG, ~/.kube/config, in-cluster). Throws `KubeConfigError` when none is found: client-node would
 * otherwise fall back to http://localhost:8080 and fail later with a confusing error. Reachability is checked
 * separately by `checkReachable`.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): KubeConfig {
  let kc: KubeConfig;
  try {
    if (opts.kubeconfigPath && !existsSync(opts.kubeconfigPath))
      throw new ZwError('ZW_ERR_KUBE_CONFIG', `file ${opts.kubeconfigPath} does not exist`);
    // Without client-node where the lite kubeconfig serves (kubeconfig.ts: everything but auth-provider, proxy-url
    // and merged KUBECONFIG files); the lite one has every method zen-watcher calls on a KubeConfig.
    const lite = opts.kubeconfigPath
      ? liteFromFile(opts.kubeconfigPath)
      : opts.inCluster
        ? liteFromCluster()
        : liteFromDefault();
    if (lite) kc = lite as unknown as KubeConfig;
    else {
      kc = new (clientNode().KubeConfig)();
      if (opts.kubeconfigPath) kc.loadFromFile(opts.kubeconfigPath);
      else if (opts.inCluster) kc.loadFromCluster();
      else kc.loadFromDefault();
    }
  } catch (err) {
    throw new KubeConfigError(`cannot load the kubeconfig: ${errorText(err)}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubeConfigError(`the kubeconfig's current context (${kc.getCurrentContext() || 'none'}) has no cluster`);
  }
  if (opts.inCluster && !opts.kubeconfigPath) {
    if (/undefined/.test(cluster.server)) {
      throw new KubeConfigError('in-cluster config: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set');
    }
    if (!existsSync(SERVICE_ACCOUNT_TOKEN)) {
      throw new KubeConfigError(`in-cluster config: no service account token at ${SERVICE_ACCOUNT_TOKEN}`);
    }
  }
  if (!opts.kubeconfigPath && !opts.inCluster && cluster.name === 'cluster' && kc.getCurrentUser()?.name === 'user') {
    // client-node's last resort when it found nothing at all.
    throw new KubeConfigError(
      'no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a pod; kubernetes mode needs a cluster',
    );
  }
  return kc;
}

const connections = new WeakMap<KubeConfig, KubeConnection>();

/** A shared connection per KubeConfig for the small calls of this module (discovery, reachability, KubeApi). */
export function connectionFor(kc: KubeConfig): KubeConnection {
  let c = connections.get(kc);
  if (!c) {
    c = new KubeConnection(kc);
    connections.set(kc, c);
  }
  return c;
}

/**
 * GET /version within `timeoutMs`. Resolves with the server's gitVersion; rejects `KubeUnreachableError` naming the
 * server (refused, TLS, timeout, or an HTTP error such as 401 for bad credentials).
 */
export async function checkReachable(kc: KubeConfig, timeoutMs = 5_000): Promise<{ gitVersion: string }> {
  const server = kc.getCurrentCluster()?.server ?? '(no cluster)';
  const context = kc.getCurrentContext() || 'none';
  try {
    const v = await connectionFor(kc).json<{ gitVersion?: string }>({ path: '/version', timeoutMs });
    return { gitVersion: v?.gitVersion ?? 'unknown' };
  } catch (err) {
    const status = statusOf(err);
    const what =
      status === 401
        ? 'rejected our credentials (HTTP 401)'
        : status !== undefined
          ? `answered HTTP ${status}`
          : `did not answer within ${timeoutMs} ms (${errorText(err)})`;
    throw new KubeUnreachableError(server, `kubernetes: API server ${server} (context ${context}) ${what}`, {
      cause: err,
      ...(status !== undefined ? { status } : {}),
    });
  }
}

/** Discovery answers younger than this are reused (the contract says "re-checked on each call": this is cheap). */
export const DISCOVERY_CACHE_MS = 10_000;
const discovery = new WeakMap<KubeConfig, Map<string, { at: number; names: Map<string, boolean> | undefined }>>();

/**
 * Whether the API server serves group/version/resource (plural), by discovery. A group/version that is not served
 * (404) is `false`; other failures reject. Answers are cached for at most DISCOVERY_CACHE_MS per group/version.
 */
export async function hasResource(
  kc: KubeConfig,
  group: string,
  version: string,
  resource: string,
  now: () => number = Date.now,
): Promise<boolean> {
  return (await resourceScope(kc, group, version, resource, now)) !== undefined;
}

/**
 * Discovery's answer for one resource: 'namespaced', 'cluster', or undefined when the API server does not serve it.
 * Cached like hasResource.
 */
export async function resourceScope(
  kc: KubeConfig,
  group: string,
  version: string,
  resource: string,
  now: () => number = Date.now,
): Promise<'namespaced' | 'cluster' | undefined> {
  let byGv = discovery.get(kc);
  if (!byGv) {
    byGv = new Map();
    discovery.set(kc, byGv);
  }
  const key = `${group}/${version}`;
  const hit = byGv.get(key);
  const answer = (names: Map<string, boolean> | undefined) => {
    const namespaced = names?.get(resource);
    return namespaced === undefined ? undefined : namespaced ? 'namespaced' : 'cluster';
  };
  if (hit && now() - hit.at < DISCOVERY_CACHE_MS) return answer(hit.names);
  let names: Map<string, boolean> | undefined;
  try {
    const list = await connectionFor(kc).json<{ resources?: { name?: string; namespaced?: boolean }[] }>({
      path: groupVersionPath(group, version),
    });
    names = new Map((list?.resources ?? []).map((r) => [r.name ?? '', r.namespaced !== false]));
  } catch (err) {
    if (statusOf(err) !== 404)
      throw zwError('ZW_ERR_KUBE_DISCOVERY', { resource: key, detail: errorText(err) }, { cause: err });
  }
  byGv.set(key, { at: now(), names });
  return answer(names);
}
