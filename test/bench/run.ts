/**
 * `npm run bench [-- PART...] [--quick] [--json FILE] [--markdown]` — zen-watcher's benchmarks. Each figure is
 * printed next to a baseline measured in the same run on the same machine, with the ratio and the target (targets
 * are reported, never asserted). Parts (default: all, in this order):
 *
 *   ingest    1. Falco webhook ingest at 0/50/90 % duplicates, standalone (and 6. event-loop delay under it)
 *   store     1. the standalone store alone: group commit and rowid table vs the write path before #18
 *   audit     3. 400-event audit EventLists, standalone
 *   memory    6. RSS idle with every built-in plugin, and with 100,000 dedup entries
 *   writes    2. Observation writes into the real control plane (sink alone, and end to end)
 *   informer  4. VulnerabilityReports → Observations (kubernetes mode, trivy plugin), and 6. RSS watching them
 *   failover  5. graceful and crash failover of 2 replicas, default lease timings
 *   cache     6. heap per Observation in the leader's resolver cache (ADR 0011) vs an informer of full objects
 *   destinations 7. ingest with two Destinations, one answering 500 forever, vs none; drain time; backlog bound
 *   peer      8. Falcosidekick (ZEN_BENCH_FALCOSIDEKICK) with no outputs and a webhook output vs zen-watcher and bare
 *   scale     9. a new leader over 2,000 realistic (~100 KB) VulnerabilityReports + PolicyReports: peak RSS, time, requests
 *   readapi  10. read API list/summary latency and index memory with 100,000 Observations vs the API server's LIST
 *   profile   not part of `all`: CPU profiles (node --cpu-prof) of zen-watcher under the ingest and audit loads
 *
 * The kubernetes parts start one real kube-apiserver + etcd (test/controlplane) for the run, or use
 * ZEN_TEST_KUBECONFIG; without one they are skipped with the reason. Results: docs/BENCHMARKS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchContext, createContext } from './lib/context.ts';
import { type KubeBench, startKubeBench } from './lib/kube.ts';
import { hostSpeedNs, machineInfo, watchNoise } from './lib/machine.ts';
import { Report, table } from './lib/report.ts';
import { auditPart } from './parts/audit.ts';
import { cachePart } from './parts/cache.ts';
import { destinationsPart } from './parts/destinations.ts';
import { failoverPart } from './parts/failover.ts';
import { informerPart } from './parts/informer.ts';
import { ingestPart } from './parts/ingest.ts';
import { memoryPart } from './parts/memory.ts';
import { peerPart } from './parts/peer.ts';
import { profilePart } from './parts/profile.ts';
import { readApiPart } from './parts/readapi.ts';
import { scalePart } from './parts/scale.ts';
import { storePart } from './parts/store.ts';
import { writesPart } from './parts/writes.ts';

type Part = (ctx: BenchContext, kube: () => Promise<KubeBench | string>) => Promise<void>;

const PARTS: Record<string, Part> = {
  ingest: (ctx) => ingestPart(ctx),
  store: (ctx) => storePart(ctx),
  audit: (ctx) => auditPart(ctx),
  memory: (ctx) => memoryPart(ctx),
  writes: writesPart,
  informer: informerPart,
  failover: failoverPart,
  cache: cachePart,
  destinations: (ctx) => destinationsPart(ctx),
  peer: (ctx) => peerPart(ctx),
  scale: scalePart,
  readapi: readApiPart,
};
const ALL = [
  'ingest',
  'store',
  'audit',
  'memory',
  'writes',
  'informer',
  'failover',
  'cache',
  'destinations',
  'peer',
  'scale',
  'readapi',
];

const USAGE = `usage: npm run bench [-- PART...] [--quick] [--json FILE] [--markdown] | npm run bench -- --from FILE [--markdown]
parts: ${ALL.join(', ')} (default: all), profile (CPU profiles; not in all)
  --quick      shorter runs (a smoke test; figures are noisier)
  --json FILE  also write the rows, notes and machine description as JSON
  --markdown   print the final table as Markdown
  --from FILE  print the table of a saved run (--json FILE) again, measuring nothing`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse(args: string[]) {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        quick: { type: 'boolean', default: false },
        json: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        from: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  }
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.from) {
    // Re-print a saved run (--json FILE) without measuring anything.
    const saved = JSON.parse(readFileSync(values.from, 'utf8')) as {
      rows: Report['rows'];
      skipped: Report['skipped'];
      notes: string[];
    };
    const r = new Report();
    r.rows.push(...saved.rows);
    r.skipped.push(...saved.skipped);
    r.notes.push(...saved.notes);
    process.stdout.write(`${table(r, values.markdown)}\n`);
    return 0;
  }
  const wanted = positionals.length ? positionals : ALL;
  for (const p of wanted) {
    if (!PARTS[p] && p !== 'profile') {
      process.stderr.write(`bench: unknown part '${p}'\n${USAGE}\n`);
      return 2;
    }
  }

  const report = new Report();
  const ctx = createContext(report, values.quick);
  const m = machineInfo();
  const machine = `${m.cpus} cores (${m.cpuModel}), ${m.ramGiB.toFixed(1)} GiB RAM, Node ${m.node}, Linux ${m.kernel}`;
  process.stderr.write(`zen-watcher bench on ${machine}${values.quick ? ' (--quick)' : ''}\n`);
  const started = performance.now();
  const noise = watchNoise();

  let kube: Promise<KubeBench | string> | undefined;
  const getKube = () => (kube ??= startKubeBench());
  try {
    for (const p of wanted) {
      const t0 = performance.now();
      const speed0 = hostSpeedNs();
      process.stderr.write(`\n== ${p}\n`);
      try {
        if (p === 'profile') await profilePart(ctx, join(tmpdir(), `zw-bench-profiles-${Date.now()}`), getKube);
        else await PARTS[p]!(ctx, getKube);
      } catch (err) {
        // The whole stack goes to stderr; the table keeps one line, so a failure does not swamp the report.
        process.stderr.write(`  FAILED ${p}: ${(err as Error).stack ?? err}\n`);
        report.skip({ section: 0, name: p, reason: `failed: ${String((err as Error).message ?? err).split('\n')[0]}` });
      }
      const speed1 = hostSpeedNs();
      process.stderr.write(`== ${p} took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      report.note(
        `${p}: host speed probe ${speed0.toFixed(2)} ns before, ${speed1.toFixed(2)} ns after (per loop iteration; higher is slower, see docs/BENCHMARKS.md "Reading the numbers")`,
      );
    }
  } finally {
    const k = kube ? await kube : undefined;
    if (k && typeof k !== 'string') await k.stop();
  }

  const total = (performance.now() - started) / 1000;
  const n = noise();
  const summary = [
    `zen-watcher bench: ${machine}`,
    `parts: ${wanted.join(', ')}${values.quick ? ' (--quick)' : ''}; took ${Math.floor(total / 60)} min ${Math.round(total % 60)} s; background CPU (processes outside the bench) ${n.otherPct.toFixed(0)} % of the machine, load average ${n.load1.toFixed(1)} at the end`,
    '',
    table(report, values.markdown),
    ...(report.notes.length ? ['', 'notes:', ...report.notes.map((x) => `- ${x}`)] : []),
  ].join('\n');
  process.stdout.write(`\n${summary}\n`);
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ machine: m, quick: values.quick, parts: wanted, seconds: total, background: n, rows: report.rows, skipped: report.skipped, notes: report.notes }, null, 2)}\n`,
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Child processes are stopped; do not wait for idle keep-alive sockets of the clients.
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
