/**
 * 4. Informer path: VulnerabilityReports (built from the real Trivy fixture, 10 vulnerabilities each, one workload
 * per report) created in a fresh namespace, 16 at a time; measured from the first create to the moment every
 * finding's Observation exists. zen-watcher runs in kubernetes mode with the trivy plugin (leader), a trivy
 * Ingester with its rate limit off, and ZEN_KUBE_WRITE_QPS raised (see writes.ts). Sizes: 100, 1,000 and 10,000
 * findings (10, 100, 1,000 reports). Baseline: plain-controller.ts (client-node informer + create loop, 16
 * concurrent) doing the same job in its own process.
 * Also 6.: RSS of the leader once it watches 10,000 reports (more reports with 1 finding each are added), next to
 * a plain client-node informer process caching the same reports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { realFixturesDir } from '../../support/fixtures.ts';
import { REPO } from '../../support/host.ts';
import type { BenchContext } from '../lib/context.ts';
import { countObjects, ING, isLeader, type KubeBench, OBS, startReplica, VULN, waitFor, ZEN_NS } from '../lib/kube.ts';
import { watchNoise } from '../lib/machine.ts';
import { metricsText, metricValue, settledRssMb, waitIdle, type Zen } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';
import { FAST_QPS } from './writes.ts';

const PER_REPORT = 10;
const CREATORS = 16;

type Json = Record<string, unknown>;

function reportMaker(): (ns: string, i: number, findings: number) => Json {
  const base = parse(
    readFileSync(join(realFixturesDir()!, 'trivy/vulnerabilityreport-replicaset-coredns-27-vulns.yaml'), 'utf8'),
  ) as { report: { vulnerabilities: Json[] } & Json };
  // A 2022 scan: today's CRD also requires report.os and each vulnerability's publishedDate / lastModifiedDate.
  const vulns = base.report.vulnerabilities.map((v) => ({
    publishedDate: '2021-01-01T00:00:00Z',
    lastModifiedDate: '2021-01-01T00:00:00Z',
    ...v,
  }));
  const section = { os: { family: 'distroless' }, ...base.report };
  return (ns, i, findings) => ({
    apiVersion: `${VULN.group}/${VULN.version}`,
    kind: 'VulnerabilityReport',
    metadata: {
      name: `replicaset-coredns-bench-${i}-coredns`,
      namespace: ns,
      labels: {
        'trivy-operator.container.name': 'coredns',
        'trivy-operator.resource.kind': 'ReplicaSet',
        'trivy-operator.resource.name': `coredns-bench-${i}`,
        'trivy-operator.resource.namespace': ns,
      },
    },
    report: { ...section, vulnerabilities: vulns.slice(0, findings) },
  });
}

async function createAll(k: KubeBench, bodies: Json[], creators = CREATORS): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: creators }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const meta = body.metadata as { namespace: string };
        for (let attempt = 0; ; attempt++) {
          try {
            await k.custom.api.createNamespacedCustomObject({ ...VULN, namespace: meta.namespace, body });
            break;
          } catch (err) {
            const code = (err as { code?: number }).code;
            if (code === 409) break;
            // Only overload is retried: a refused report is a bench bug, never a silent gap in the count.
            if ((code !== 429 && (code ?? 500) < 500) || attempt > 10) throw err;
            await sleep(200);
          }
        }
      }
    }),
  );
}

export interface Plain {
  child: ChildProcess;
  /** The last status line; `started` once its informer has listed (it prints only after that). */
  last: { seen: number; created: number };
  started: boolean;
  stop(): Promise<void>;
}

export function startPlain(k: KubeBench, args: string[]): Plain {
  const child = spawn(
    process.execPath,
    [join(REPO, 'test/bench/plain-controller.ts'), '--kubeconfig', k.kubeconfig, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const p: Plain = {
    child,
    last: { seen: 0, created: 0 },
    started: false,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    if (lines.length) {
      p.last = JSON.parse(lines.at(-1)!) as Plain['last'];
      p.started = true;
    }
  });
  return p;
}

export async function informerPart(ctx: BenchContext, kube: () => Promise<KubeBench | string>): Promise<void> {
  const { report } = ctx;
  const skip = (reason: string) => {
    report.skip({ section: 4, name: 'informer path (VulnerabilityReports → Observations)', reason });
    report.skip({ section: 6, name: 'RSS watching 10,000 reports', reason });
  };
  if (!existsSync(join(REPO, 'plugins/trivy/package.json'))) return skip('plugins/trivy is not in this tree yet');
  const k = await kube();
  if (typeof k === 'string') return skip(k);
  if (k.trivyCrdProblem) return skip(k.trivyCrdProblem);
  const noise = watchNoise();
  const make = reportMaker();

  await k.custom.api.createNamespacedCustomObject({
    ...ING,
    namespace: ZEN_NS,
    body: {
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'trivy-bench', namespace: ZEN_NS },
      spec: {
        source: 'trivy',
        ingester: 'informer',
        rateLimit: { enabled: false },
        config: { reportKinds: ['VulnerabilityReport'] },
      },
    },
  });
  const zen: Zen = await startReplica(k, { name: 'informer-0', electionId: `informer-${Date.now()}`, env: FAST_QPS });
  try {
    await waitFor('the informer replica to lead', () => isLeader(zen.url), 60_000);
    const text = await metricsText(zen.url);
    if (!/^zen_watcher_plugins\{plugin="trivy",[^}]*status="loaded"\} 1$/m.test(text)) {
      return skip(`the trivy plugin did not load: ${text.match(/^zen_watcher_plugins\{plugin="trivy"[^\n]*/m)?.[0]}`);
    }
    const created = async () =>
      metricValue(await metricsText(zen.url), 'zen_watcher_observations_created_total', { source: 'trivy' }) || 0;

    let reportNo = 0;
    const sizes = ctx.pick([100, 1000, 10_000], [100, 1000]);
    const zenRuns: { findings: number; ms: number; createdMs: number; stored: number }[] = [];
    for (const findings of sizes) {
      const ns = await k.newNamespace('trivy');
      const bodies = Array.from({ length: findings / PER_REPORT }, () => make(ns, reportNo++, PER_REPORT));
      const before = await created();
      const t0 = performance.now();
      await createAll(k, bodies);
      const createdMs = performance.now() - t0;
      await waitFor(`${findings} trivy Observations`, async () => (await created()) - before >= findings, 600_000, 50);
      const ms = performance.now() - t0;
      zenRuns.push({ findings, ms, createdMs, stored: await countObjects(k, OBS, ns, 'source=trivy') });
      process.stderr.write(`    zen-watcher: ${fmt(findings)} findings in ${fmt(ms / 1000)} s\n`);
    }

    // 6. RSS while watching 10,000 reports: top up with clean reports (no vulnerabilities: an image with nothing to
    // fix, which Trivy reports too), so the figure is about watching reports, not about writing more Observations.
    const target = ctx.pick(10_000, 2_000);
    const extra = Math.max(0, target - reportNo);
    const mns = await k.newNamespace('trivy-mem');
    const t0 = performance.now();
    await createAll(
      k,
      Array.from({ length: extra }, () => make(mns, reportNo++, 0)),
      32,
    );
    const topUpS = (performance.now() - t0) / 1000;
    // Let the leader take every report in (informer cache, plugin state, reconciles), then measure.
    const settleMs = await waitIdle(zen.pid, 300_000);
    const rss = await settledRssMb(zen.pid);
    const heap = metricValue(await metricsText(zen.url), 'zen_watcher_nodejs_heap_size_used_bytes') / 1024 / 1024;
    await zen.stop();

    // Baselines, with zen-watcher stopped (it watches every namespace and would take their reports too).
    const cache = startPlain(k, []);
    let plainRss: number;
    try {
      await waitFor('plain informer synced', async () => cache.last.seen >= reportNo, 120_000, 100);
      plainRss = await settledRssMb(cache.child.pid!);
    } finally {
      await cache.stop();
    }
    report.add({
      section: 6,
      name: `RSS of the leader watching ${fmt(reportNo)} VulnerabilityReports`,
      unit: 'MB',
      value: rss,
      detail: `V8 heap ${fmt(heap)} MB used; ${fmt(extra)} of them clean (0 findings), created in ${fmt(topUpS)} s, taken in ${fmt(settleMs / 1000)} s later`,
      baseline: plainRss,
      baselineName: 'plain client-node informer caching them',
      better: 'lower',
    });
    for (const z of zenRuns) {
      const pns = await k.newNamespace('plain-trivy');
      const plain = startPlain(k, ['--namespace', pns, '--write']);
      let plainMs: number;
      try {
        await waitFor('plain controller started', async () => plain.started, 30_000, 20);
        const pbodies = Array.from({ length: z.findings / PER_REPORT }, (_, i) => make(pns, i, PER_REPORT));
        const p0 = performance.now();
        await createAll(k, pbodies);
        await waitFor(`${z.findings} plain Observations`, async () => plain.last.created >= z.findings, 600_000, 20);
        plainMs = performance.now() - p0;
      } finally {
        await plain.stop();
      }
      report.add({
        section: 4,
        name: `${fmt(z.findings / PER_REPORT)} VulnerabilityReports, ${fmt(z.findings)} findings → all Observations exist`,
        unit: 's',
        value: z.ms / 1000,
        detail: `${fmt((z.findings * 1000) / z.ms)} obs/s; reports created in ${fmt(z.createdMs / 1000)} s; ${fmt(z.stored)} stored`,
        baseline: plainMs / 1000,
        baselineDetail: `${fmt((z.findings * 1000) / plainMs)} obs/s`,
        baselineName: 'plain client-node informer + create loop',
        better: 'lower',
      });
    }
    const n = noise();
    report.note(
      `informer: trivy Ingester with rateLimit off, ZEN_KUBE_WRITE_QPS=100000; Observations counted by listing each namespace (label source=trivy) after the metric said they were written; baselines ran with zen-watcher stopped; background CPU ${fmt(n.otherPct)} %, load ${fmt(n.load1)}`,
    );
  } finally {
    await zen.stop();
  }
}
