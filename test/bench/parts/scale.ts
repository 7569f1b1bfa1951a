/**
 * 9. Scale: one zen-watcher replica becomes leader over realistic reports that are already in the cluster — the
 * moment the issue is about (a new leader lists everything; an OOM-killed leader's successor does too): 2,000
 * VulnerabilityReports (ZEN_BENCH_SCALE_REPORTS; 150 vulnerabilities each with titles, links, CVSS and package URLs
 * as Trivy Operator writes them: about 100 KB) and a quarter as many Kyverno PolicyReports (40 results each, 4
 * failing: about 10 KB), spread over 20 namespaces. Measured from the replica's start until every expected
 * Observation exists (metric `zen_watcher_observations_created_total` per source): that time, the replica's peak
 * RSS (VmHWM from /proc, so no peak between samples is missed) and the API requests the control plane served
 * meanwhile (its own `apiserver_request_total`, by verb). Baseline: a plain client-node informer
 * (test/bench/plain-controller.ts, no writes) caching the same VulnerabilityReports, in its own process, after
 * zen-watcher stopped.
 *
 * The trivy Ingester keeps findings of severity HIGH and above (`minSeverity: high`; 10 per report here), the
 * kyverno one its defaults (fail/warn/error): the Observations written stay in the tens of thousands, so the figure
 * is about watching reports, not about etcd holding 300,000 Observations.
 *
 *   npm run bench -- scale [--quick]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { KubeConnection } from '../../../core/kube/request.ts';
import { realFixturesDir } from '../../support/fixtures.ts';
import { REPO } from '../../support/host.ts';
import type { BenchContext } from '../lib/context.ts';
import { ING, type KubeBench, startReplica, VULN, waitFor, ZEN_NS } from '../lib/kube.ts';
import { watchNoise } from '../lib/machine.ts';
import { metricsText, metricValue, rssMb, settledRssMb, type Zen } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';
import { startPlain } from './informer.ts';
import { FAST_QPS } from './writes.ts';

type Json = Record<string, unknown>;

const POLR = { group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports' };
const NAMESPACES = 20;
const VULNS = 150;
const KEPT_PER_REPORT = 10; // CRITICAL + HIGH, distinct per report
const RESULTS = 40;
const FAILS = 4;

const SEVERITIES = ['CRITICAL', 'CRITICAL', ...Array(8).fill('HIGH'), ...Array(50).fill('MEDIUM')] as string[];
/** A VulnerabilityReport as Trivy Operator 0.2x writes it, ~100 KB; the first 10 findings are CRITICAL/HIGH. */
export function vulnerabilityReport(ns: string, i: number): Json {
  const vulns = Array.from({ length: VULNS }, (_, v) => {
    const id = `CVE-20${20 + (v % 5)}-${10000 + ((i * 7 + v * 131) % 89999)}${v}`;
    return {
      vulnerabilityID: id,
      resource: `github.com/example/module-${v % 37}`,
      installedVersion: `v1.${v % 9}.${v % 4}`,
      fixedVersion: `1.${(v % 9) + 1}.0`,
      severity: v < KEPT_PER_REPORT ? SEVERITIES[v] : v % 3 === 0 ? 'LOW' : v % 3 === 1 ? 'MEDIUM' : 'UNKNOWN',
      score: 5 + (v % 50) / 10,
      title: `module-${v % 37}: improper input validation`,
      primaryLink: `https://avd.aquasec.com/nvd/${id.toLowerCase()}`,
      links: [
        `https://nvd.nist.gov/vuln/detail/${id}`,
        `https://github.com/advisories/GHSA-${(i * 31 + v).toString(36).padStart(4, 'x')}-abcd-efgh`,
      ],
      cvss: { nvd: { V3Score: 7.5, V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' } },
      packageType: 'gobinary',
      packagePURL: `pkg:golang/github.com/example/module-${v % 37}@v1.${v % 9}.${v % 4}`,
      publishedDate: '2023-03-01T00:00:00Z',
      lastModifiedDate: '2023-06-01T00:00:00Z',
      target: 'usr/local/bin/app',
      class: 'lang-pkgs',
    };
  });
  return {
    apiVersion: `${VULN.group}/${VULN.version}`,
    kind: 'VulnerabilityReport',
    metadata: {
      name: `replicaset-app-${i}-7d9f8c6b5-app`,
      namespace: ns,
      labels: {
        'trivy-operator.container.name': 'app',
        'trivy-operator.resource.kind': 'ReplicaSet',
        'trivy-operator.resource.name': `app-${i}-7d9f8c6b5`,
        'trivy-operator.resource.namespace': ns,
        'resource-spec-hash': '65df6ff459',
      },
    },
    report: {
      artifact: { repository: `example/app-${i % 50}`, tag: 'v2.3.1' },
      registry: { server: 'ghcr.io' },
      os: { family: 'alpine', name: '3.18.4' },
      scanner: { name: 'Trivy', vendor: 'Aqua Security', version: '0.48.3' },
      summary: { criticalCount: 2, highCount: 8, mediumCount: 60, lowCount: 50, noneCount: 0, unknownCount: 30 },
      updateTimestamp: '2024-01-10T12:00:00Z',
      vulnerabilities: vulns,
    },
  };
}

/** A Kyverno PolicyReport for one Pod: 40 results (Pod Security Standards, best practices), 4 failing, ~14 KB. */
export function policyReport(ns: string, i: number): Json {
  const uid = `0ec04a57-4c3d-492d-${(9000 + (i % 999)).toString()}-${i.toString(16).padStart(12, '0')}`;
  const results = Array.from({ length: RESULTS }, (_, r) => {
    const fail = r < FAILS;
    const policy = `policy-${r % 20}`;
    return {
      category: r % 2 ? 'Pod Security Standards (Baseline)' : 'Best Practices',
      message: fail
        ? `validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to \`false\`. rule rule-${r} failed at path /spec/hostNetwork/`
        : `validation rule 'rule-${r}' passed.`,
      policy,
      result: fail ? 'fail' : 'pass',
      rule: `rule-${r}`,
      scored: true,
      severity: 'medium',
      source: 'kyverno',
      timestamp: { nanos: 0, seconds: 1701868762 },
    };
  });
  return {
    apiVersion: `${POLR.group}/${POLR.version}`,
    kind: 'PolicyReport',
    metadata: {
      name: uid,
      namespace: ns,
      labels: { 'app.kubernetes.io/managed-by': 'kyverno' },
    },
    scope: { apiVersion: 'v1', kind: 'Pod', name: `app-${i}-7d9f8c6b5-x2x4z`, namespace: ns, uid },
    results,
    summary: { pass: RESULTS - FAILS, fail: FAILS, warn: 0, error: 0, skip: 0 },
  };
}

async function createAll(k: KubeBench, gvr: typeof VULN, bodies: () => Json | undefined): Promise<void> {
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let body = bodies(); body; body = bodies()) {
        const namespace = (body.metadata as { namespace: string }).namespace;
        for (let attempt = 0; ; attempt++) {
          try {
            await k.custom.api.createNamespacedCustomObject({ ...gvr, namespace, body });
            break;
          } catch (err) {
            const code = (err as { code?: number }).code;
            if (code === 409) break;
            if ((code !== 429 && (code ?? 500) < 500) || attempt > 10) throw err;
            await sleep(200);
          }
        }
      }
    }),
  );
}

async function applyCrd(k: KubeBench, file: string): Promise<string | undefined> {
  const root = realFixturesDir();
  if (!root) return 'real fixture corpus not found (ZEN_REAL_FIXTURES)';
  const crd = parse(readFileSync(join(root, file), 'utf8')) as V1CustomResourceDefinition;
  const api = k.kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
    await sleep(100);
  }
  return `${crd.metadata!.name} did not become Established within 30 s`;
}

/** The control plane's request counts by verb (its own /metrics), for the requests made between two readings. */
async function apiRequests(conn: KubeConnection): Promise<Map<string, number>> {
  const text = await (await conn.send({ path: '/metrics' })).body.text();
  const by = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const verb = /verb="([^"]+)"/.exec(m[1]!)?.[1] ?? '?';
    by.set(verb, (by.get(verb) ?? 0) + Number(m[2]));
  }
  return by;
}

function requestDelta(a: Map<string, number>, b: Map<string, number>): { total: number; text: string } {
  const parts: string[] = [];
  let total = 0;
  for (const [verb, n] of b) {
    const d = n - (a.get(verb) ?? 0);
    if (d <= 0) continue;
    total += d;
    parts.push(`${verb} ${fmt(d)}`);
  }
  return { total, text: parts.join(', ') };
}

/** A replica's own API requests by verb (`zen_watcher_kube_requests_total`). */
function kubeRequests(text: string): Map<string, number> {
  const by = new Map<string, number>();
  for (const m of text.matchAll(/^zen_watcher_kube_requests_total\{verb="([^"]+)"\} (\S+)$/gm)) {
    by.set(m[1]!, Number(m[2]));
  }
  return by;
}

function requestDeltaFrom(a: Map<string, number>, b: Map<string, number>): { total: number; text: string } {
  return requestDelta(a, b);
}

const OBS_GVR = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const INGESTER_LABEL = 'zen.kube-zen.io/ingester';

/** Observations of these Ingesters (by their label) in these namespaces. */
async function countObservations(k: KubeBench, namespaces: string[], ingesters: string[]): Promise<number> {
  let n = 0;
  for (const namespace of namespaces) {
    let cont: string | undefined;
    do {
      const page = (await k.custom.api.listNamespacedCustomObject({
        ...OBS_GVR,
        namespace,
        labelSelector: `${INGESTER_LABEL} in (${ingesters.join(',')})`,
        limit: 5000,
        ...(cont ? { _continue: cont } : {}),
      })) as { items: unknown[]; metadata?: { _continue?: string; continue?: string } };
      n += page.items.length;
      cont = page.metadata?._continue || page.metadata?.continue || undefined;
    } while (cont);
  }
  return n;
}

/** Deletes the Observations of these Ingesters and waits until they are gone (so the next run starts clean). */
async function deleteObservations(k: KubeBench, namespaces: string[], ingesters: string[]): Promise<void> {
  const t0 = performance.now();
  for (const namespace of namespaces) {
    await k.custom.api.deleteCollectionNamespacedCustomObject({
      ...OBS_GVR,
      namespace,
      labelSelector: `${INGESTER_LABEL} in (${ingesters.join(',')})`,
    });
  }
  await waitFor(
    "the previous run's Observations to be deleted",
    async () => (await countObservations(k, namespaces, ingesters)) === 0,
    600_000,
    2000,
  );
  process.stderr.write(`    deleted the previous run's Observations in ${fmt((performance.now() - t0) / 1000)} s\n`);
}

/** `heapLimitMb` of the Helm chart's values.yaml (undefined when unset or null). */
function chartHeapLimitMb(): number | undefined {
  const values = parse(readFileSync(join(REPO, 'config/helm/zen-watcher/values.yaml'), 'utf8')) as {
    heapLimitMb?: unknown;
  };
  return typeof values.heapLimitMb === 'number' ? values.heapLimitMb : undefined;
}

/** The image's environment for glibc's allocator (the Dockerfile's `MALLOC_ARENA_MAX`, ADR 0027), if it sets one. */
function imageMallocEnv(): Record<string, string> {
  const m = /\bMALLOC_ARENA_MAX=(\d+)/.exec(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  return m ? { MALLOC_ARENA_MAX: m[1]! } : {};
}

/** Peak RSS of a process so far (the kernel's high-water mark), in MB. */
export function peakRssMb(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function scalePart(ctx: BenchContext, kube: () => Promise<KubeBench | string>): Promise<void> {
  const { report } = ctx;
  const reports = Number(process.env.ZEN_BENCH_SCALE_REPORTS) || ctx.pick(2000, 300);
  const policyReports = Math.round(reports / 4);
  const name = `replicas over ${fmt(reports)} VulnerabilityReports (~100 KB) + ${fmt(policyReports)} PolicyReports`;
  const k = await kube();
  if (typeof k === 'string') return report.skip({ section: 9, name, reason: k });
  if (k.trivyCrdProblem) return report.skip({ section: 9, name, reason: k.trivyCrdProblem });
  const crd = await applyCrd(k, 'kyverno/crd-policyreports.wgpolicyk8s.io.yaml');
  if (crd) return report.skip({ section: 9, name, reason: crd });
  const noise = watchNoise();
  const conn = new KubeConnection(k.kc, { requestTimeoutMs: 30_000, userAgent: 'zen-bench' });

  const namespaces: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) namespaces.push(await k.newNamespace('scale'));
  const sample = JSON.stringify(vulnerabilityReport(namespaces[0]!, 0)).length;
  const polSample = JSON.stringify(policyReport(namespaces[0]!, 0)).length;
  process.stderr.write(
    `    creating ${fmt(reports)} VulnerabilityReports of ${fmt(sample / 1024)} KB and ${fmt(policyReports)} PolicyReports of ${fmt(polSample / 1024)} KB…\n`,
  );
  const t0 = performance.now();
  let vi = 0;
  await createAll(k, VULN, () => (vi < reports ? vulnerabilityReport(namespaces[vi % NAMESPACES]!, vi++) : undefined));
  let pi = 0;
  await createAll(k, POLR, () => (pi < policyReports ? policyReport(namespaces[pi % NAMESPACES]!, pi++) : undefined));
  process.stderr.write(`    created in ${fmt((performance.now() - t0) / 1000)} s\n`);

  const minSeverity = process.env.ZEN_BENCH_SCALE_MIN_SEVERITY ?? 'high';
  const keptPerReport = minSeverity === 'critical' ? 2 : KEPT_PER_REPORT;
  const wantTrivy = reports * keptPerReport;
  const wantKyverno = policyReports * FAILS;
  const counts = (process.env.ZEN_BENCH_SCALE_REPLICAS ?? '1,3')
    .split(',')
    .map(Number)
    .filter((x) => Number.isInteger(x) && x > 0);
  // As the Helm chart and config/manager run it: V8's old-space limit from the chart's heapLimitMb (unless
  // ZEN_BENCH_SCALE_HEAP=default, V8's own sizing for this machine's RAM).
  const heapMb = chartHeapLimitMb();
  const heapEnv: Record<string, string> =
    process.env.ZEN_BENCH_SCALE_HEAP === 'default' || !heapMb ? {} : { NODE_OPTIONS: `--max-old-space-size=${heapMb}` };
  // And glibc's arenas as the image sets them (ZEN_BENCH_SCALE_MALLOC=default: glibc's own, 8 per core).
  if (process.env.ZEN_BENCH_SCALE_MALLOC !== 'default') Object.assign(heapEnv, imageMallocEnv());
  // ZEN_BENCH_SCALE_SNAPSHOT=DIR: each replica writes a V8 heap snapshot to DIR once every Observation exists
  // (after the figures are taken), to see what the heap holds then.
  const snapshotDir = process.env.ZEN_BENCH_SCALE_SNAPSHOT;
  if (snapshotDir) {
    heapEnv.NODE_OPTIONS =
      `${heapEnv.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}`.trim();
  }
  const heapText = `${
    heapEnv.NODE_OPTIONS ? `NODE_OPTIONS=${heapEnv.NODE_OPTIONS} as the chart sets it` : "V8's default heap sizing"
  }, ${heapEnv.MALLOC_ARENA_MAX ? `MALLOC_ARENA_MAX=${heapEnv.MALLOC_ARENA_MAX} as the image sets it` : "glibc's default arenas"}`;

  // Baseline: the plain client-node informer, caching every VulnerabilityReport (before zen-watcher runs).
  // ZEN_BENCH_SCALE_PLAIN=skip leaves it out (a quicker run while iterating; the baseline columns are then NaN).
  let plainMs = Number.NaN;
  let plainPeak = Number.NaN;
  let plainReq: { total: number; text: string } = { total: Number.NaN, text: 'skipped' };
  if (process.env.ZEN_BENCH_SCALE_PLAIN !== 'skip') {
    const before2 = await apiRequests(conn);
    const p0 = performance.now();
    const plain = startPlain(k, []);
    try {
      await waitFor('plain informer synced', async () => plain.last.seen >= reports, 600_000, 50);
      plainMs = performance.now() - p0;
      plainReq = requestDelta(before2, await apiRequests(conn));
      plainPeak = peakRssMb(plain.child.pid!);
    } finally {
      await plain.stop();
    }
  }
  /** Informer memory of one replica at 1 replica (peak RSS − idle RSS), for the ratio at more replicas. */
  let oneReplicaInformerMb: number | undefined;
  // One replica started and stopped first: the first start after a code change strips and compiles the TypeScript
  // into Node's compile cache (bin/zen-watcher.js), which left the first measured replica 10–20 MB above the idle RSS
  // of the later ones and made its informer memory (peak − idle) look smaller.
  await (
    await startReplica(k, { name: 'scale-warmup', electionId: `scale-warmup-${Date.now()}`, env: heapEnv })
  ).stop();
  let previous: string[] = [];
  for (const n of counts) {
    // Each run has its own Ingesters and sources (the previous run's Observations are deleted first).
    if (previous.length) await deleteObservations(k, [...namespaces, ZEN_NS], previous);
    const tag = `${n}r`;
    const sources = { trivy: `trivy-scale-${tag}`, kyverno: `kyverno-scale-${tag}` };
    previous = Object.values(sources);
    const electionId = `scale-${tag}-${Date.now()}`;
    const zens: Zen[] = [];
    try {
      for (let i = 0; i < n; i++) {
        zens.push(await startReplica(k, { name: `scale-${tag}-${i}`, electionId, env: { ...FAST_QPS, ...heapEnv } }));
      }
      await waitFor(
        'a leader',
        async () =>
          (await Promise.all(zens.map((z) => metricsText(z.url)))).some((t) =>
            /^zen_watcher_leader\{[^}]*\} 1$/m.test(t),
          ),
        60_000,
        200,
      );
      // Idle: listening, elected, no Ingester yet.
      const idle = await Promise.all(zens.map((z) => settledRssMb(z.pid, 2000)));
      if (process.env.ZEN_BENCH_SCALE_TRACE) {
        for (const [i, t] of (await Promise.all(zens.map((z) => metricsText(z.url)))).entries()) {
          const mb = (name: string, labels?: Record<string, string>) => fmt(metricValue(t, name, labels) / 1024 / 1024);
          process.stderr.write(
            `      ${tag}#${i} idle rss=${fmt(idle[i]!)} heapUsed=${mb('zen_watcher_nodejs_heap_size_used_bytes')} heapTotal=${mb('zen_watcher_nodejs_heap_size_total_bytes')} old=${mb('zen_watcher_nodejs_heap_space_size_total_bytes', { space: 'old' })} ext=${mb('zen_watcher_nodejs_external_memory_bytes')}\n`,
          );
        }
      }
      const req0 = await Promise.all(zens.map(async (z) => kubeRequests(await metricsText(z.url))));
      const before = await apiRequests(conn);
      for (const [handler, source] of Object.entries(sources)) {
        const config =
          handler === 'trivy'
            ? { reportKinds: ['VulnerabilityReport'], minSeverity }
            : { reportKinds: ['PolicyReport'] };
        await k.custom.api.createNamespacedCustomObject({
          ...ING,
          namespace: ZEN_NS,
          body: {
            apiVersion: 'zen.kube-zen.io/v1alpha1',
            kind: 'Ingester',
            metadata: { name: source, namespace: ZEN_NS },
            spec: { source, plugin: handler, ingester: 'informer', rateLimit: { enabled: false }, config },
          },
        });
      }
      const z0 = performance.now();
      const created = async (z: Zen, source: string) =>
        metricValue(await metricsText(z.url), 'zen_watcher_observations_created_total', { source }) || 0;
      const total = async (source: string) =>
        (await Promise.all(zens.map((z) => created(z, source)))).reduce((a, b) => a + b, 0);
      if (process.env.ZEN_BENCH_SCALE_TRACE) {
        const timer = setInterval(() => {
          void Promise.all(zens.map((z) => metricsText(z.url).catch(() => '')))
            .then((texts) => {
              const mb = (t: string, name: string) => fmt(metricValue(t, name) / 1024 / 1024);
              // V8's spaces, committed / used: young generation, old objects, large objects (list page strings).
              const space = (t: string, s: string) =>
                `${fmt(metricValue(t, 'zen_watcher_nodejs_heap_space_size_total_bytes', { space: s }) / 1024 / 1024)}/${fmt(metricValue(t, 'zen_watcher_nodejs_heap_space_size_used_bytes', { space: s }) / 1024 / 1024)}`;
              for (const [i, t] of texts.entries()) {
                const z = zens[i]!;
                process.stderr.write(
                  `      ${tag}#${i} t=${fmt((performance.now() - z0) / 1000)} s rss=${fmt(rssMb(z.pid))} hwm=${fmt(peakRssMb(z.pid))} heapUsed=${mb(t, 'zen_watcher_nodejs_heap_size_used_bytes')} heapTotal=${mb(t, 'zen_watcher_nodejs_heap_size_total_bytes')} new=${space(t, 'new')} old=${space(t, 'old')} lo=${space(t, 'large_object')} code=${space(t, 'code')} ext=${mb(t, 'zen_watcher_nodejs_external_memory_bytes')} created=${metricValue(t, 'zen_watcher_observations_created_total', { source: sources.trivy })}\n`,
                );
              }
            })
            .catch(() => {});
        }, 5000);
        setTimeout(() => clearInterval(timer), 1_800_000).unref();
        zens[0]!.child.once('exit', () => clearInterval(timer));
      }
      await waitFor(
        `${fmt(wantTrivy)} trivy and ${fmt(wantKyverno)} kyverno Observations (${n} replicas)`,
        async () => (await total(sources.trivy)) >= wantTrivy && (await total(sources.kyverno)) >= wantKyverno,
        3_600_000,
        500,
      );
      const zenMs = performance.now() - z0;
      const apiAll = requestDelta(before, await apiRequests(conn));
      const texts = await Promise.all(zens.map((z) => metricsText(z.url)));
      const exist = await countObservations(k, [...namespaces, ZEN_NS], Object.values(sources));
      const name = `${n} replica${n > 1 ? 's' : ''} over ${fmt(reports)} VulnerabilityReports (~100 KB) + ${fmt(policyReports)} PolicyReports`;
      const rows = zens.map((z, i) => {
        const peak = peakRssMb(z.pid);
        const informer = peak - idle[i]!;
        const req = requestDeltaFrom(req0[i]!, kubeRequests(texts[i]!));
        const made = ['trivy', 'kyverno'].map(
          (h) =>
            metricValue(texts[i]!, 'zen_watcher_observations_created_total', { source: sources[h as 'trivy'] }) || 0,
        );
        const sum = (name: string) =>
          [...texts[i]!.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce(
            (a, m) => a + Number(m[1]),
            0,
          );
        return {
          peak,
          informer,
          req,
          made,
          leader: /^zen_watcher_leader\{[^}]*\} 1$/m.test(texts[i]!),
          nsWatches: sum('zen_watcher_shard_namespace_watches'),
          fallbacks: sum('zen_watcher_shard_informer_fallbacks_total'),
        };
      });
      if (n === 1) oneReplicaInformerMb = rows[0]!.informer;
      for (const [i, r] of rows.entries()) {
        const who = `${name}, replica ${i}${n > 1 ? (r.leader ? ' (leader)' : '') : ''}`;
        const met = r.peak < 400;
        report.add({
          section: 9,
          name: `${who}: peak RSS`,
          unit: 'MB',
          value: r.peak,
          detail: `idle ${fmt(idle[i]!)} MB, so informer memory (peak − idle) ${fmt(r.informer)} MB${oneReplicaInformerMb && n > 1 ? ` = ${fmt((100 * r.informer) / oneReplicaInformerMb)} % of 1 replica's` : ''}; created ${fmt(r.made[0]!)} + ${fmt(r.made[1]!)} Observations; ${heapText}; trivy minSeverity ${minSeverity}`,
          baseline: plainPeak,
          baselineName: 'plain client-node informer caching the VulnerabilityReports',
          target: { text: '< 400 MB', met, ...(met ? {} : { miss: `${fmt(r.peak - 400)} MB over` }) },
          better: 'lower',
        });
        if (n > 1 && oneReplicaInformerMb) {
          const pct = (100 * r.informer) / oneReplicaInformerMb;
          report.add({
            section: 9,
            name: `${who}: informer memory (peak − idle RSS)`,
            unit: 'MB',
            value: r.informer,
            detail: `${fmt(pct)} % of 1 replica's ${fmt(oneReplicaInformerMb)} MB for the same reports; per-namespace watches ${fmt(r.nsWatches)} at the end, cluster-wide fallbacks ${fmt(r.fallbacks)} (ADR 0025)`,
            baseline: oneReplicaInformerMb,
            baselineName: '1 replica (no sharding), same reports, same run',
            target: {
              text: "≤ 45 % of 1 replica's",
              met: pct <= 45,
              ...(pct <= 45 ? {} : { miss: `${fmt(pct - 45)} points over` }),
            },
            better: 'lower',
          });
        }
        report.add({
          section: 9,
          name: `${who}: API requests it sent`,
          unit: 'requests',
          value: r.req.total,
          detail: `${r.req.text} (zen_watcher_kube_requests_total)`,
          baseline: plainReq.total,
          baselineDetail: plainReq.text,
          baselineName: 'plain client-node informer (lists and watches, no writes)',
          better: 'lower',
        });
      }
      if (snapshotDir) {
        for (const z of zens) z.child.kill('SIGUSR2');
        await sleep(15_000);
      }
      const wantAll = wantTrivy + wantKyverno;
      report.add({
        section: 9,
        name: `${name}: until all ${fmt(wantAll)} Observations exist`,
        unit: 's',
        value: zenMs / 1000,
        detail: `${fmt((wantAll * 1000) / zenMs)} obs/s from the Ingesters' creation; ${fmt(exist)} Observations in the cluster (${exist === wantAll ? 'each exactly once' : `want ${fmt(wantAll)}`}); the API server served ${fmt(apiAll.total)} requests meanwhile (${apiAll.text})`,
        baseline: plainMs / 1000,
        baselineDetail: 'until its informer holds every VulnerabilityReport (it writes nothing)',
        baselineName: 'plain client-node informer',
        better: 'lower',
      });
    } finally {
      await Promise.all(zens.map((z) => z.stop()));
      for (const source of Object.values(sources)) {
        await k.custom.api.deleteNamespacedCustomObject({ ...ING, namespace: ZEN_NS, name: source }).catch(() => {});
      }
    }
  }

  await conn.close();
  const noiseNow = noise();
  report.note(
    `scale: reports of ${fmt(sample / 1024)} KB (${VULNS} vulnerabilities) and ${fmt(polSample / 1024)} KB (${RESULTS} results) in ${NAMESPACES} namespaces, created before the replica started; API requests from the control plane's apiserver_request_total (everything it served meanwhile, Lease renewals and Observation creates included); background CPU ${fmt(noiseNow.otherPct)} %, load ${fmt(noiseNow.load1)}`,
  );
}
