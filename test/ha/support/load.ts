/**
 * Load for the HA suites, and the oracle that says which Observations it must produce.
 *
 * - Informer sources (Trivy VulnerabilityReports, Kyverno PolicyReports, and the test plugin's ConfigMap source):
 *   reports in the real formats with known findings, each created, updated (one finding dropped, one added) and,
 *   for about half, deleted; every state lasts a random time in `stateMs`. The full history is kept.
 * - Webhook sources (Falco alerts, audit EventLists): each event unique, built from the real fixtures.
 * - The oracle: the same plugins in the test kit (core/testkit), fed the same history / bodies. Its Observations
 *   are what the cluster must end with, keyed by `source/spec.fingerprint` (independent of replicas, windows and
 *   timing): Active for findings still reported, Resolved for the others, one Observation per key.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import type { KubeApi } from '../../../core/kube/api.ts';
import { type IngesterInput, loadTestPlugin, type TestPlugin } from '../../../core/testkit/index.ts';
import { REPO } from '../../support/host.ts';
import { HA_PLUGIN_DIR } from './replicas.ts';

export const key = (source: string, fingerprint: string) => `${source}/${fingerprint}`;

// ---------------------------------------------------------------------------------------------------------------
// Informer sources

export interface Gvr {
  group: string;
  version: string;
  plural: string;
}

export interface InformerSource {
  /** Observation spec.source (= the Ingester's source). */
  source: string;
  pluginDir: string;
  /** The plugin's handler (spec.plugin). */
  handler: string;
  gvr: Gvr;
  /** CRD files to apply (absent: a built-in resource). */
  crds: string[];
  /** Ingester spec fields beyond source/plugin/ingester. */
  spec: Record<string, unknown>;
  /** The object for a report `id` in `ns` with these finding keys (small integers). */
  make(id: number, ns: string, findings: number[]): Record<string, unknown>;
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];

/** Sources whose plugin is present; `fixtures` is the real corpus root (CRDs). */
export function informerSources(fixtures: string, only?: string[]): InformerSource[] {
  const out: InformerSource[] = [];
  const want = (s: string) => !only || only.includes(s);
  const trivyCrd = join(fixtures, 'trivy/crd-vulnerabilityreports.aquasecurity.github.io.yaml');
  if (want('trivy') && existsSync(join(REPO, 'plugins/trivy/package.json')) && existsSync(trivyCrd)) {
    out.push({
      source: 'trivy',
      pluginDir: join(REPO, 'plugins/trivy'),
      handler: 'trivy',
      gvr: { group: 'aquasecurity.github.io', version: 'v1alpha1', plural: 'vulnerabilityreports' },
      crds: [trivyCrd],
      spec: { config: { reportKinds: ['VulnerabilityReport'] } },
      make: (id, ns, findings) => trivyReport(id, ns, findings),
    });
  }
  const kyvernoCrd = join(fixtures, 'kyverno/crd-policyreports.wgpolicyk8s.io.yaml');
  if (want('kyverno') && existsSync(join(REPO, 'plugins/kyverno/package.json')) && existsSync(kyvernoCrd)) {
    out.push({
      source: 'kyverno',
      pluginDir: join(REPO, 'plugins/kyverno'),
      handler: 'kyverno',
      gvr: { group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports' },
      crds: [kyvernoCrd],
      spec: { config: { reportKinds: ['PolicyReport'] } },
      make: (id, ns, findings) => policyReport(id, ns, findings),
    });
  }
  if (want('ha-cm')) {
    out.push({
      source: 'ha-cm',
      pluginDir: HA_PLUGIN_DIR,
      handler: 'ha-configmaps',
      gvr: { group: '', version: 'v1', plural: 'configmaps' },
      crds: [],
      spec: { informer: { labelSelector: 'ha.zen-test/findings' } },
      make: (id, ns, findings) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `ha-cm-${id}`, namespace: ns, labels: { 'ha.zen-test/findings': 'true' } },
        data: Object.fromEntries(findings.map((f) => [`finding-${f}`, SEVERITIES[f % 4]!.toLowerCase()])),
      }),
    });
  }
  return out;
}

/** A VulnerabilityReport as Trivy Operator writes it (fields the current CRD requires included). */
export function trivyReport(id: number, ns: string, findings: number[]): Record<string, unknown> {
  const rs = `ha-app-${id}-6d4cf56db6`;
  const vulns = findings.map((f) => ({
    vulnerabilityID: `CVE-2099-${String(id * 100 + f).padStart(5, '0')}`,
    resource: `libha${f}`,
    installedVersion: `1.${f}.0-1`,
    fixedVersion: f % 3 === 0 ? '' : `1.${f}.1-1`,
    severity: SEVERITIES[f % SEVERITIES.length]!,
    title: `synthetic vulnerability ${f} of report ${id}`,
    primaryLink: `https://avd.aquasec.com/nvd/cve-2099-${id * 100 + f}`,
    links: [],
    score: 5 + (f % 5),
    target: `registry.example.test/ha/app:${id}`,
    publishedDate: '2099-01-01T00:00:00Z',
    lastModifiedDate: '2099-01-02T00:00:00Z',
  }));
  const count = (s: string) => vulns.filter((v) => v.severity === s).length;
  return {
    apiVersion: 'aquasecurity.github.io/v1alpha1',
    kind: 'VulnerabilityReport',
    metadata: {
      name: `replicaset-${rs}-app`,
      namespace: ns,
      labels: {
        'trivy-operator.container.name': 'app',
        'trivy-operator.resource.kind': 'ReplicaSet',
        'trivy-operator.resource.name': rs,
        'trivy-operator.resource.namespace': ns,
        'app.kubernetes.io/managed-by': 'trivy-operator',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: rs,
          uid: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
    },
    report: {
      artifact: { repository: 'ha/app', tag: String(id) },
      registry: { server: 'registry.example.test' },
      os: { family: 'debian', name: '12.5' },
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: '0.62.1' },
      summary: {
        criticalCount: count('CRITICAL'),
        highCount: count('HIGH'),
        mediumCount: count('MEDIUM'),
        lowCount: count('LOW'),
        unknownCount: count('UNKNOWN'),
      },
      updateTimestamp: new Date().toISOString(),
      vulnerabilities: vulns,
    },
  };
}

/** A per-resource PolicyReport as Kyverno writes it: name = the Pod's uid, `scope` = the Pod; a pass result too. */
export function policyReport(id: number, ns: string, findings: number[]): Record<string, unknown> {
  const uid = `11111111-0000-4000-8000-${String(id).padStart(12, '0')}`;
  const pod = `ha-pod-${id}`;
  const ts = { seconds: Math.floor(Date.now() / 1000), nanos: 0 };
  const results = [
    {
      policy: 'disallow-capabilities',
      rule: 'adding-capabilities',
      result: 'pass',
      message: "validation rule 'adding-capabilities' passed.",
      category: 'Pod Security Standards (Baseline)',
      severity: 'medium',
      scored: true,
      source: 'kyverno',
      timestamp: ts,
    },
    ...findings.map((f) => ({
      policy: `ha-policy-${f}`,
      rule: `ha-rule-${f}`,
      result: f % 4 === 3 ? 'warn' : 'fail',
      message: `validation error: synthetic rule ${f} failed for ${pod}`,
      category: 'Pod Security Standards (Restricted)',
      severity: ['critical', 'high', 'medium', 'low'][f % 4],
      scored: true,
      source: 'kyverno',
      timestamp: ts,
      properties: { process: 'background scan' },
    })),
  ];
  return {
    apiVersion: 'wgpolicyk8s.io/v1alpha2',
    kind: 'PolicyReport',
    metadata: {
      name: uid,
      namespace: ns,
      labels: { 'app.kubernetes.io/managed-by': 'kyverno' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod, uid }],
    },
    scope: { apiVersion: 'v1', kind: 'Pod', name: pod, namespace: ns, uid },
    results,
    summary: {
      pass: 1,
      fail: results.filter((r) => r.result === 'fail').length,
      warn: results.filter((r) => r.result === 'warn').length,
      error: 0,
      skip: 0,
    },
  };
}

/** Applies the CRDs and waits until each is Established. */
export async function applyCrds(api: KubeApi, files: string[]): Promise<void> {
  const gvr = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
  for (const f of files) {
    const crd = parse(readFileSync(f, 'utf8')) as { metadata: { name: string } };
    await api.create({ ...gvr, body: crd }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const o = (await api.get({ ...gvr, name: crd.metadata.name })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      if (o.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established in 30 s`);
      await sleep(100);
    }
  }
}

export interface Step {
  op: 'create' | 'update' | 'delete';
  /** Before the API call / after it returned. */
  t0: number;
  t1: number;
  findings: number[];
  obj: Record<string, unknown>;
}

export interface ReportHistory {
  id: number;
  source: InformerSource;
  namespace: string;
  name: string;
  steps: Step[];
}

/**
 * Reports created at a steady pace (round-robin over the sources), each living through create → update →
 * (delete); `burst(n)` creates n at once. `stop()` ends the load: no new reports, pending steps cancelled.
 */
export class ReportLoad {
  readonly history: ReportHistory[] = [];
  readonly errors: string[] = [];
  readonly #api: KubeApi;
  readonly #sources: InformerSource[];
  readonly #namespaces: string[];
  readonly #stateMs: [number, number];
  readonly #deleteRatio: number;
  readonly #onStep: ((h: ReportHistory, step: Step) => void) | undefined;
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();
  #next = 1;
  #turn = 0;

  constructor(o: {
    api: KubeApi;
    sources: InformerSource[];
    namespaces: string[];
    stateMs?: [number, number];
    deleteRatio?: number;
    /** Called after each step landed, in order per report. */
    onStep?: (h: ReportHistory, step: Step) => void;
  }) {
    this.#onStep = o.onStep;
    this.#api = o.api;
    this.#sources = o.sources;
    this.#namespaces = o.namespaces;
    this.#stateMs = o.stateMs ?? [10_000, 15_000];
    this.#deleteRatio = o.deleteRatio ?? 0.5;
  }

  /** Creates one report every `everyMs` until stop(). */
  run(everyMs: number): void {
    if (this.#sources.length === 0) return;
    const loop = (async () => {
      while (!this.#stop.signal.aborted) {
        this.spawn();
        await sleep(everyMs, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
    })();
    this.#track(loop);
  }

  burst(n: number): void {
    for (let i = 0; i < n; i++) this.spawn();
  }

  /** One report lifecycle, on the next source and namespace in turn. */
  spawn(source?: InformerSource, namespace?: string): ReportHistory | undefined {
    if (this.#sources.length === 0 || this.#stop.signal.aborted) return undefined;
    const turn = this.#turn++;
    const s = source ?? this.#sources[turn % this.#sources.length]!;
    const ns = namespace ?? this.#namespaces[Math.floor(turn / this.#sources.length) % this.#namespaces.length]!;
    const id = this.#next++;
    const first = [0, 1, 2];
    const obj = s.make(id, ns, first);
    const meta = obj.metadata as { name: string };
    const h: ReportHistory = { id, source: s, namespace: ns, name: meta.name, steps: [] };
    this.history.push(h);
    const willDelete = Math.random() < this.#deleteRatio;
    this.#track(this.#lifecycle(h, first, willDelete));
    return h;
  }

  async #lifecycle(h: ReportHistory, first: number[], willDelete: boolean): Promise<void> {
    const signal = this.#stop.signal;
    const pause = () =>
      sleep(this.#stateMs[0] + Math.random() * (this.#stateMs[1] - this.#stateMs[0]), undefined, { signal });
    const ref = { ...h.source.gvr, namespace: h.namespace };
    try {
      await this.#step(h, 'create', first, (obj) => this.#api.create({ ...ref, body: obj }));
      await pause();
      const second = [1, 2, 3];
      await this.#step(h, 'update', second, (obj) =>
        this.#api.patch({ ...ref, name: h.name, type: 'merge', body: mergePatch(h.steps.at(-1)!.obj, obj) }),
      );
      if (!willDelete) return;
      await pause();
      await this.#step(h, 'delete', [], () => this.#api.delete({ ...ref, name: h.name }));
    } catch (err) {
      if (!signal.aborted) this.errors.push(`${h.source.source} ${h.name}: ${(err as Error).message}`);
    }
  }

  /** One API write, retried on transient errors; recorded with the time just before the first attempt. */
  async #step(
    h: ReportHistory,
    op: Step['op'],
    findings: number[],
    call: (obj: Record<string, unknown>) => Promise<unknown>,
  ) {
    const obj = h.source.make(h.id, h.namespace, findings);
    const t0 = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await call(obj);
        break;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if ((op === 'create' && code === 409) || (op === 'delete' && code === 404)) break; // an earlier attempt landed
        if (attempt >= 5) throw err;
        await sleep(200 * attempt);
      }
    }
    const step: Step = { op, t0, t1: Date.now(), findings, obj };
    h.steps.push(step);
    this.#onStep?.(h, step);
  }

  #track(p: Promise<void>) {
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    while (this.#running.size) await Promise.allSettled([...this.#running]);
  }
}

/** A JSON merge patch turning `from` into `to` (maps merged key by key, null removes; arrays replaced). */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (!isObj(from) || !isObj(to)) return to;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (JSON.stringify(from[k]) === JSON.stringify(v)) continue;
    out[k] = mergePatch(from[k], v);
  }
  return out;
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------------------------
// Webhook payloads

export interface WebhookEvent {
  id: string;
  source: 'falco' | 'audit';
  path: string;
  body: string;
}

/** Builds unique Falco alerts and audit EventLists from the real fixtures. */
export class WebhookPayloads {
  readonly #falco: Record<string, unknown>;
  readonly #audit: Record<string, unknown>;
  readonly #ns: string;
  #n = 0;

  constructor(fixtures: string, namespace: string) {
    this.#falco = JSON.parse(readFileSync(join(fixtures, 'falco/alert-critical-terminal-shell-docs.json'), 'utf8'));
    const ev = JSON.parse(readFileSync(join(fixtures, 'audit/event-v1-delete-secret-metadata.json'), 'utf8'));
    delete ev.kind; // the webhook backend sends items without TypeMeta
    delete ev.apiVersion;
    this.#audit = ev;
    this.#ns = namespace;
  }

  next(source: 'falco' | 'audit'): WebhookEvent {
    const n = ++this.#n;
    const id = `${source}-${n}`;
    if (source === 'falco') {
      const a = structuredClone(this.#falco) as { time: string; output_fields: Record<string, unknown> } & Record<
        string,
        unknown
      >;
      const ns = String(1_000_000_000 + n).slice(1); // unique nanoseconds
      const now = new Date().toISOString().slice(0, 19);
      a.time = `${now}.${ns}Z`;
      a.output_fields = { ...a.output_fields, 'k8s.ns.name': this.#ns, 'k8s.pod.name': `ha-pod-${n}` };
      delete a.output_fields['evt.time'];
      a.hostname = `ha-node-${n % 3}`;
      return { id, source, path: '/ingest/falco', body: JSON.stringify(a) };
    }
    const items = [0, 1].map((i) => {
      const e = structuredClone(this.#audit) as Record<string, unknown> & { objectRef: Record<string, unknown> };
      e.auditID = randomUUID();
      e.objectRef = { ...e.objectRef, namespace: this.#ns, name: `ha-secret-${n}-${i}` };
      e.requestURI = `/api/v1/namespaces/${this.#ns}/secrets/ha-secret-${n}-${i}`;
      const ts = new Date().toISOString().replace('Z', '000Z');
      e.requestReceivedTimestamp = ts;
      e.stageTimestamp = ts;
      return e;
    });
    const body = { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
    return { id, source, path: '/ingest/audit', body: JSON.stringify(body) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Oracle

export interface IngesterDef {
  name: string;
  namespace: string;
  spec: Record<string, unknown>;
}

export function ingesterObject(d: IngesterDef) {
  return {
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Ingester',
    metadata: { name: d.name, namespace: d.namespace },
    spec: d.spec,
  };
}

const kitInput = (d: IngesterDef): IngesterInput => {
  const { source, plugin, ingester, config, ...rest } = d.spec as {
    source: string;
    plugin?: string;
    ingester: 'webhook' | 'informer';
    config?: Record<string, unknown>;
  } & Record<string, unknown>;
  return {
    name: d.name,
    namespace: d.namespace,
    source,
    handler: plugin ?? source,
    ingester,
    ...(config ? { config } : {}),
    spec: rest,
  };
};

/** Expected Observation keys of webhook bodies, from the same plugin in the test kit. */
export class WebhookOracle {
  readonly #kits = new Map<string, { kit: TestPlugin; input: IngesterInput }>();

  static async create(defs: { pluginDir: string; def: IngesterDef }[]): Promise<WebhookOracle> {
    const o = new WebhookOracle();
    for (const { pluginDir, def } of defs) {
      o.#kits.set(def.spec.source as string, { kit: await loadTestPlugin(pluginDir), input: kitInput(def) });
    }
    return o;
  }

  async expect(e: WebhookEvent): Promise<string[]> {
    const k = this.#kits.get(e.source);
    if (!k) throw new Error(`no oracle for ${e.source}`);
    const { observations } = await k.kit.webhook(JSON.parse(e.body), k.input);
    return observations.map((o) => key(o.spec.source, o.spec.fingerprint));
  }

  async close() {
    for (const k of this.#kits.values()) await k.kit.close();
  }
}

export interface ExpectedInformer {
  /** key → phase the cluster must end with. */
  final: Map<string, 'Active' | 'Resolved'>;
  /** key → Observation name (informer names carry no window bucket). */
  names: Map<string, string>;
  /** Per report step: the keys that step made appear (for catch-up times). */
  appeared: { history: ReportHistory; step: Step; keys: string[] }[];
}

/**
 * The source's plugin in the test kit (grace period 0), fed every report step in order as it happens, so the
 * suite knows at any time which Observations must exist already (`appeared`), and at the end the final set.
 */
export class InformerOracle {
  readonly appeared: ExpectedInformer['appeared'] = [];
  readonly #source: InformerSource;
  readonly #kit: TestPlugin;
  readonly #prev = new Map<ReportHistory, Record<string, unknown>>();
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(source: InformerSource, kit: TestPlugin) {
    this.#source = source;
    this.#kit = kit;
  }

  static async create(source: InformerSource, def: IngesterDef): Promise<InformerOracle> {
    const kit = await loadTestPlugin(source.pluginDir, { resolveGraceMs: 0 });
    kit.ingester(kitInput(def));
    await kit.startLeading();
    await kit.settle();
    await kit.relist(source.gvr.plural, []);
    return new InformerOracle(source, kit);
  }

  #keys(): Set<string> {
    return new Set(this.#kit.observations().map((o) => key(o.spec.source, o.spec.fingerprint)));
  }

  /** Feeds one step (steps of one report in order); resolves with the keys it made appear. */
  apply(h: ReportHistory, step: Step): Promise<string[]> {
    const run = this.#chain.then(async () => {
      const before = this.#keys();
      const plural = this.#source.gvr.plural;
      const obj = withMeta(step.obj, h, h.steps.indexOf(step));
      const prev = this.#prev.get(h);
      if (step.op === 'create') await this.#kit.add(plural, obj);
      else if (step.op === 'update') await this.#kit.update(plural, obj, prev);
      else await this.#kit.remove(plural, prev ?? obj);
      this.#prev.set(h, obj);
      const keys = [...this.#keys()].filter((k) => !before.has(k));
      this.appeared.push({ history: h, step, keys });
      return keys;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Waits for the steps fed so far, resolves what is no longer reported, and returns the expected end state. */
  async final(): Promise<ExpectedInformer> {
    await this.#chain;
    await this.#kit.tick();
    const final = new Map<string, 'Active' | 'Resolved'>();
    const names = new Map<string, string>();
    for (const o of this.#kit.observations()) {
      const k = key(o.spec.source, o.spec.fingerprint);
      final.set(k, o.phase);
      names.set(k, o.name);
    }
    return { final, names, appeared: this.appeared };
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#kit.close();
  }
}

/** Replays every report history of the source through its plugin in the test kit. */
export async function informerOracle(
  source: InformerSource,
  def: IngesterDef,
  histories: ReportHistory[],
): Promise<ExpectedInformer> {
  const o = await InformerOracle.create(source, def);
  try {
    for (const h of histories.filter((x) => x.source.source === source.source)) {
      for (const step of h.steps) await o.apply(h, step);
    }
    return await o.final();
  } finally {
    await o.close();
  }
}

/** What the informer would hand the plugin: the object with a uid and a resourceVersion. */
function withMeta(obj: Record<string, unknown>, h: ReportHistory, step: number): Record<string, unknown> {
  const meta = obj.metadata as Record<string, unknown>;
  return {
    ...obj,
    metadata: {
      ...meta,
      uid: `22222222-0000-4000-8000-${String(h.id).padStart(12, '0')}`,
      resourceVersion: String(1000 + step),
      creationTimestamp: new Date(h.steps[0]?.t0 ?? Date.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
    },
  };
}
