/**
 * Helpers for the deployment tests: the real helm and kustomize (built by scripts/build-tools.sh, cached outside the
 * repo), rendering the shipped manifests, and a small API client for the test control plane (server-side apply with
 * dry run, SubjectAccessReview, TokenRequest) that speaks plain HTTPS with the kubeconfig's CA and a bearer token.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../support/host.ts';

const run = promisify(execFile);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/** The Kubernetes version helm renders for: the test control plane's (test/controlplane: kube-apiserver v1.34.4). */
export const KUBE_VERSION = 'v1.34.4';

let tools: Promise<{ helm: string; kustomize: string }> | undefined;

/**
 * Paths of helm and kustomize, built on first use (a cold build takes minutes; see docs/INSTALL.md). Rejects when
 * they cannot be built (no Go): callers skip, except under CI=true.
 */
export function deployTools(): Promise<{ helm: string; kustomize: string }> {
  tools ??= run('bash', [join(REPO, 'scripts/build-tools.sh'), 'helm', 'kustomize'], {
    maxBuffer: 1 << 20,
    timeout: 20 * 60_000,
  }).then(({ stdout }) => {
    const [helm, kustomize] = stdout.trim().split('\n').slice(-2);
    if (!helm || !kustomize) throw new Error(`build-tools.sh printed no paths: ${stdout}`);
    return { helm, kustomize };
  });
  return tools;
}

export async function toolsOrSkip(): Promise<{ tools?: { helm: string; kustomize: string }; skip?: string }> {
  try {
    return { tools: await deployTools() };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skip: `helm/kustomize not available (${(err as Error).message.split('\n')[0]}); install Go` };
  }
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`bad YAML: ${d.errors[0]!.message}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

export async function kustomizeBuild(kustomize: string, dir: string): Promise<KubeObject[]> {
  const { stdout } = await run(kustomize, ['build', '--load-restrictor', 'LoadRestrictionsNone', resolve(REPO, dir)], {
    maxBuffer: 64 << 20,
  });
  return parseObjects(stdout);
}

/**
 * config/default with its commented-out `[TAG]` blocks enabled (e.g. PROMETHEUS), as a user would edit it: the
 * kustomization is copied to a temporary directory, its `../` paths rewritten to reach config/ from there.
 */
export async function kustomizeDefaultWith(kustomize: string, tags: string[]): Promise<KubeObject[]> {
  const text = readFileSync(join(REPO, 'config/default/kustomization.yaml'), 'utf8');
  const lines = text.split('\n');
  for (const tag of tags) {
    const at = lines.findIndex((l) => l.includes(`[${tag}]`));
    if (at < 0) throw new Error(`config/default has no [${tag}] block`);
    for (let i = at + 1; i < lines.length && /^\s*#/.test(lines[i]!); i++)
      if (/^\s*#-/.test(lines[i]!)) lines[i] = lines[i]!.replace('#-', '-');
  }
  const dir = mkdtempSync(join(tmpdir(), 'zw-kustomize-'));
  try {
    // kustomize takes no absolute resource paths: relative ones from the temporary directory to config/.
    const config = relative(dir, join(REPO, 'config'));
    writeFileSync(join(dir, 'kustomization.yaml'), lines.join('\n').replaceAll('../', `${config}/`));
    return await kustomizeBuild(kustomize, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const CHART = join(REPO, 'config/helm/zen-watcher');

export async function helmTemplate(
  helm: string,
  opts: { release?: string; namespace?: string; valuesFiles?: string[]; set?: string[] } = {},
): Promise<KubeObject[]> {
  const args = [
    'template',
    opts.release ?? 'zen-watcher',
    CHART,
    '--namespace',
    opts.namespace ?? 'zen-system',
    '--kube-version',
    KUBE_VERSION,
    '--include-crds',
  ];
  for (const f of opts.valuesFiles ?? []) args.push('--values', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  const { stdout } = await run(helm, args, { maxBuffer: 64 << 20 });
  return parseObjects(stdout);
}

/** helm template that is expected to fail: resolves with helm's error output. */
export async function helmTemplateError(helm: string, set: string[], valuesFiles: string[] = []): Promise<string> {
  try {
    await helmTemplate(helm, { set, valuesFiles });
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error(`helm template succeeded with ${JSON.stringify(set)}`);
}

export const byKind = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind);
export const one = (objs: KubeObject[], kind: string, name?: string): KubeObject => {
  const hits = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${hits.length}`);
  return hits[0]!;
};

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
  warnings: string[];
}

/** A bearer-token client for one API server (https, the kubeconfig's CA). */
export class Api {
  readonly server: string;
  readonly token: string;
  readonly ca: string | undefined;
  #resources: Map<string, { plural: string; namespaced: boolean }> | undefined;

  constructor(server: string, token: string, ca?: string) {
    this.server = server;
    this.token = token;
    this.ca = ca;
  }

  withToken(token: string): Api {
    return new Api(this.server, token, this.ca);
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          ...(this.ca ? { ca: this.ca } : {}),
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': contentType } : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const w = res.headers.warning;
            resolve({
              status: res.statusCode ?? 0,
              body: parsed,
              text,
              warnings: w === undefined ? [] : Array.isArray(w) ? w : [w],
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.text.slice(0, 500)}`);
    return r.body as T;
  }

  /** apiVersion/kind → plural and scope, from discovery (refreshed when a kind is missing, e.g. after a CRD). */
  async resourceFor(apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean }> {
    const key = `${apiVersion}/${kind}`;
    if (!this.#resources?.has(key)) {
      this.#resources ??= new Map();
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const r = await this.request('GET', path);
      const list = (r.body as { resources?: { name: string; kind: string; namespaced: boolean }[] } | undefined)
        ?.resources;
      for (const res of list ?? []) {
        if (!res.name.includes('/'))
          this.#resources.set(`${apiVersion}/${res.kind}`, { plural: res.name, namespaced: res.namespaced });
      }
    }
    const hit = this.#resources.get(key);
    if (!hit) throw new Error(`the API server does not serve ${key}`);
    return hit;
  }

  async objectPath(o: KubeObject, name = true): Promise<string> {
    const { plural, namespaced } = await this.resourceFor(o.apiVersion, o.kind);
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    const ns = namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : '';
    return `${base}${ns}/${plural}${name ? `/${o.metadata.name}` : ''}`;
  }

  /**
   * Server-side apply, optionally as a dry run (`dryRun=All`: admission and validation run, nothing is stored).
   * fieldValidation=Strict turns unknown or duplicate fields into errors instead of warnings.
   */
  async apply(o: KubeObject, opts: { dryRun?: boolean } = {}): Promise<ApiResponse> {
    const q = new URLSearchParams({
      fieldManager: 'zen-watcher-deploy-test',
      force: 'true',
      fieldValidation: 'Strict',
    });
    if (opts.dryRun) q.set('dryRun', 'All');
    return this.request('PATCH', `${await this.objectPath(o)}?${q}`, JSON.stringify(o), 'application/apply-patch+yaml');
  }

  async applyAll(objs: KubeObject[], opts: { dryRun?: boolean } = {}): Promise<void> {
    for (const o of objs) {
      const r = await this.apply(o, opts);
      if (r.status >= 300)
        throw new Error(
          `apply ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}: HTTP ${r.status}: ${r.text}`,
        );
    }
  }

  async ensureNamespace(name: string): Promise<void> {
    const r = await this.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
    if (r.status >= 300 && r.status !== 409) throw new Error(`create namespace ${name}: HTTP ${r.status}: ${r.text}`);
  }

  /** A token for a ServiceAccount (TokenRequest API), as the kubelet would mount it. */
  async serviceAccountToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
    const r = await this.json<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    );
    return r.status.token;
  }

  /** SubjectAccessReview for a ServiceAccount: is it allowed, and why (the RBAC reason). */
  async can(
    sa: { namespace: string; name: string },
    attrs: ResourceAttributes | { nonResourcePath: string; verb: string },
  ): Promise<{ allowed: boolean; reason: string }> {
    const user = `system:serviceaccount:${sa.namespace}:${sa.name}`;
    const groups = ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'];
    const spec =
      'nonResourcePath' in attrs
        ? { user, groups, nonResourceAttributes: { path: attrs.nonResourcePath, verb: attrs.verb } }
        : { user, groups, resourceAttributes: attrs };
    const r = await this.json<{ status: { allowed?: boolean; reason?: string } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
    );
    return { allowed: r.status.allowed === true, reason: r.status.reason ?? '' };
  }
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Rules of every ClusterRole/Role bound to the ServiceAccount in these objects, with where they apply. */
export function rulesBoundTo(
  objs: KubeObject[],
  sa: { namespace: string; name: string },
): { scope: string; role: string; rules: RbacRule[] }[] {
  const out: { scope: string; role: string; rules: RbacRule[] }[] = [];
  for (const b of objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const subjects = (b.subjects ?? []) as { kind: string; name: string; namespace?: string }[];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace))
      continue;
    const ref = b.roleRef as { kind: string; name: string };
    const role = objs.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        (ref.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to a missing ${ref.kind} ${ref.name}`);
    out.push({
      scope: b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace!,
      role: `${role.kind}/${role.metadata.name}`,
      rules: (role.rules ?? []) as RbacRule[],
    });
  }
  return out;
}

/** A rule set as sorted "group|resource|verb" triples (resourceNames appended), for comparing variants. */
export function ruleTriples(rules: RbacRule[]): string[] {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? [])
        for (const v of r.verbs)
          out.add(`${g}|${res}|${v}${r.resourceNames ? `|${[...r.resourceNames].sort().join(',')}` : ''}`);
  return [...out].sort();
}
