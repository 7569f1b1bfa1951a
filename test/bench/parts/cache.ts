/**
 * 6. Memory of the leader's Observation cache (core/host/kube-index.ts, ADR 0011): heap per cached Observation,
 * after N realistic Trivy-shaped Observations (labels, a 600-byte message, details) were created on the control
 * plane and the cache has listed them. Baseline: a plain informer (core/kube/informer.ts without a transform) on
 * the same Observations, i.e. what holding full objects costs. Heap is measured in this process after two full
 * GCs, each figure against its own starting point.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { kubeObservationIndex } from '../../../core/host/kube-index.ts';
import { SCOPE_LABEL, scopeLabel } from '../../../core/host/observation-index.ts';
import { createKubeApi } from '../../../core/kube/api.ts';
import { createInformer } from '../../../core/kube/informer.ts';
import type { BenchContext } from '../lib/context.ts';
import { type KubeBench, OBS } from '../lib/kube.ts';
import { fmt } from '../lib/report.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function observation(ns: string, i: number) {
  return {
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Observation',
    metadata: {
      name: `trivy-${i.toString(16).padStart(16, '0')}`,
      namespace: ns,
      labels: {
        source: 'trivy',
        severity: 'high',
        category: 'security',
        'app.kubernetes.io/managed-by': 'zen-watcher',
        'zen.kube-zen.io/ingester': 'trivy',
        'zen.kube-zen.io/ingester-namespace': 'zen-system',
        [SCOPE_LABEL]: scopeLabel(`report-${i % 100}`),
      },
      annotations: { 'zen.kube-zen.io/first-seen': new Date().toISOString() },
    },
    spec: {
      source: 'trivy',
      category: 'security',
      severity: 'high',
      eventType: 'vulnerability',
      title: `CVE-2024-${i} in libssl3 3.0.2-0ubuntu1.10`,
      message: 'OpenSSL: a flaw in the handling of '.repeat(17),
      resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: `app-${i % 100}`, namespace: 'prod' },
      details: {
        vulnerabilityID: `CVE-2024-${i}`,
        resource: 'libssl3',
        installedVersion: '3.0.2-0ubuntu1.10',
        fixedVersion: '3.0.2-0ubuntu1.12',
        primaryLink: `https://avd.aquasec.com/nvd/cve-2024-${i}`,
        score: 7.5,
        container: 'app',
        image: 'registry.example.com/team/app:1.2.3',
      },
      fingerprint: createHash('sha256').update(`bench-${i}`).digest('hex'),
      detectedAt: new Date().toISOString(),
      ttlSecondsAfterCreation: 604_800,
    },
  };
}

export async function cachePart(ctx: BenchContext, kube: () => Promise<KubeBench | string>): Promise<void> {
  const { report } = ctx;
  const k = await kube();
  if (typeof k === 'string') {
    report.skip({ section: 6, name: 'Observation cache memory', reason: k });
    return;
  }
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const n = ctx.pick(10_000, 2_000);
  const ns = await k.newNamespace('cache');
  const api = createKubeApi(k.kc);
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => observation(ns, i + j));
      await Promise.all(batch.map((body) => api.create({ ...OBS, namespace: ns, body })));
    }
    process.stderr.write(`    created ${n} Observations in ${fmt((performance.now() - t0) / 1000)} s\n`);

    // Baseline: a plain informer keeping full objects.
    const base0 = heap();
    const plain = new AbortController();
    let listed = 0;
    const plainDone = createInformer(
      k.kc,
      { group: OBS.group, version: OBS.version, resource: OBS.plural, namespace: ns, signal: plain.signal },
      {
        synced: (all) => {
          listed = all.length;
        },
      },
      { log: silent },
    );
    while (listed === 0) await new Promise((r) => setTimeout(r, 50));
    const fullBytes = heap() - base0;
    plain.abort();
    await plainDone;

    // zen-watcher: the resolver's index with its term cache.
    const zen0 = heap();
    const term = new AbortController();
    const index = kubeObservationIndex(api, [ns], () => true, { kubeConfig: k.kc, log: silent });
    index.cacheFor(term.signal);
    const found = await index.list({ name: 'trivy', namespace: 'zen-system' } as never);
    const cacheBytes = heap() - zen0;
    term.abort();
    if (found.length !== n || listed !== n) throw new Error(`cache holds ${found.length}, informer ${listed}, of ${n}`);
    report.add({
      section: 6,
      name: `leader's Observation cache, ${n.toLocaleString('en-US')} Observations`,
      unit: 'B/obs',
      value: Math.round(cacheBytes / n),
      detail: `${fmt(cacheBytes / 2 ** 20)} MiB heap; ~${fmt(((cacheBytes / n) * 100_000) / 2 ** 20)} MiB per 100,000`,
      baseline: Math.round(fullBytes / n),
      baselineDetail: `${fmt(fullBytes / 2 ** 20)} MiB`,
      baselineName: 'plain informer keeping full Observations',
      better: 'lower',
    });
  } finally {
    await api.close();
  }
}
