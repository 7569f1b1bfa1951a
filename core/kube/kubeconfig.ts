/**
 * A kubeconfig without loading client-node (issue #18: importing `@kubernetes/client-node` costs a replica about
 * 70 MB of RSS, because its `KubeConfig` imports every generated API and model). `LiteKubeConfig` has the part of
 * client-node's `KubeConfig` that zen-watcher uses (current context, cluster, user; TLS options; authentication
 * headers), built from client-node's own small modules: `config_types.js` (the same parsing of clusters, users and
 * contexts), `exec_auth.js` (exec credential plugins) and `file_auth.js` (token files, re-read as they rotate), and
 * js-yaml, client-node's own parser. So a kubeconfig means exactly what it means to client-node.
 *
 * `liteKubeConfig` returns undefined when the configuration needs what the lite one does not do: an
 * `auth-provider` (oidc, gcp, azure), a `proxy-url`, or several KUBECONFIG files to merge; client.ts then loads
 * client-node's `KubeConfig`, as before.
 */
import { accessSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import { newClusters, newContexts, newUsers } from '@kubernetes/client-node/dist/config_types.js';
import { ExecAuth } from '@kubernetes/client-node/dist/exec_auth.js';
import { FileAuth } from '@kubernetes/client-node/dist/file_auth.js';
import { load as loadYaml } from 'js-yaml';

const SA_ROOT = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Authenticator {
  isAuthProvider(user: User): unknown;
  applyAuthentication(user: User, opts: RequestOptions): Promise<void>;
}

export class LiteKubeConfig {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = '';
  readonly #authenticators: Authenticator[] = [new ExecAuth(), new FileAuth()];

  getCurrentContext(): string {
    return this.currentContext;
  }

  getCurrentCluster(): Cluster | null {
    const ctx = this.#context();
    return (ctx && this.clusters.find((c) => c.name === ctx.cluster)) ?? null;
  }

  getCurrentUser(): User | null {
    const ctx = this.#context();
    return (ctx && this.users.find((u) => u.name === ctx.user)) ?? null;
  }

  #context(): Context | undefined {
    return this.contexts.find((c) => c.name === this.currentContext);
  }

  /** client-node's `applyHTTPSOptions`: TLS material of the current cluster and user (files read now). */
  applyHTTPSOptions(opts: RequestOptions): void {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (!user) return;
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : undefined;
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    if (user.impersonateUser) {
      opts.headers ??= {};
      (opts.headers as Record<string, string>)['Impersonate-User'] = user.impersonateUser;
    }
  }

  /** client-node's `applyAuthorizationHeader`: exec plugin or token file, then a static token. */
  async applyAuthorizationHeader(opts: RequestOptions): Promise<void> {
    const user = this.getCurrentUser();
    if (!user) return;
    opts.headers ??= {};
    const auth = this.#authenticators.find((a) => a.isAuthProvider(user));
    if (auth) await auth.applyAuthentication(user, opts);
    if (user.token) (opts.headers as Record<string, string>).Authorization = `Bearer ${user.token}`;
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

function exists(path: string): boolean {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What the lite config cannot do (client-node's KubeConfig is needed), or undefined. */
function unsupported(kc: LiteKubeConfig): string | undefined {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (cluster?.proxyUrl) return 'proxy-url';
  const provider = (user?.authProvider as { name?: string; config?: { tokenFile?: string } } | null) ?? undefined;
  if (provider && !provider.config?.tokenFile) return `auth-provider ${provider.name ?? ''}`;
  return undefined;
}

/** A kubeconfig file (client-node `loadFromFile`: relative CA/cert/key paths are relative to the file). */
export function liteFromFile(file: string): LiteKubeConfig | undefined {
  const obj = (loadYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const kc = new LiteKubeConfig();
  kc.clusters = newClusters(obj.clusters);
  kc.contexts = newContexts(obj.contexts);
  kc.users = newUsers(obj.users);
  kc.currentContext = String(obj['current-context'] ?? '');
  const root = dirname(file);
  const abs = (p: string | undefined) => (p && !isAbsolute(p) ? join(root, p) : p);
  for (const c of kc.clusters) if (c.caFile) c.caFile = abs(c.caFile);
  for (const u of kc.users) {
    if (u.certFile) u.certFile = abs(u.certFile);
    if (u.keyFile) u.keyFile = abs(u.keyFile);
  }
  return unsupported(kc) ? undefined : kc;
}

/** The pod's service account (client-node `loadFromCluster`). */
export function liteFromCluster(): LiteKubeConfig {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const serverHost = host?.includes(':') ? `[${host}]` : host;
  const kc = new LiteKubeConfig();
  kc.clusters = [
    {
      name: 'inCluster',
      caFile: `${SA_ROOT}/ca.crt`,
      server: `${scheme}://${serverHost}:${port}`,
      skipTLSVerify: false,
    },
  ];
  kc.users = [
    { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${SA_ROOT}/token` } } },
  ];
  kc.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }];
  kc.currentContext = 'inClusterContext';
  return kc;
}

/**
 * client-node `loadFromDefault`: KUBECONFIG (one file; several are merged only by client-node), ~/.kube/config,
 * in-cluster; undefined when none applies or the lite config cannot serve it.
 */
export function liteFromDefault(): LiteKubeConfig | undefined {
  const files = (process.env.KUBECONFIG ?? '').split(delimiter).filter((f) => f);
  if (files.length > 1) return undefined;
  if (files.length === 1) return liteFromFile(files[0]!);
  const home = process.env.HOME || homedir();
  if (home && exists(join(home, '.kube', 'config'))) return liteFromFile(join(home, '.kube', 'config'));
  if (exists(`${SA_ROOT}/token`)) return liteFromCluster();
  return undefined;
}
