/**
 * `npm run bench -- profile`: where zen-watcher's time and memory go, for the targets it misses. Not part of the
 * default run (profiling slows the process down, so these runs give no figures for the table):
 * - CPU profiles (NODE_OPTIONS=--cpu-prof) of zen-watcher at ingest saturation (Falco, 0 % dup) and under audit
 *   batches, summarised as the top frames by self time and self time per file/package;
 * - a CPU profile of zen-watcher in kubernetes mode writing Observations for webhook alerts (control plane needed);
 * - the standalone store's insert cost and file size with today's schema and as a rowid table (lib/store-schema.ts);
 * - idle RSS as `npm start` runs, with V8's heap and external memory, to show how much of the idle figure is V8's.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from '../../../scripts/loadgen.ts';
import type { BenchContext } from '../lib/context.ts';
import type { KubeBench } from '../lib/kube.ts';
import { auditBatchMaker, falcoStream } from '../lib/payloads.ts';
import { metricsText, metricValue, settledRssMb, startZenStandalone } from '../lib/procs.ts';
import { formatProfile, profilesIn, summarizeProfile } from '../lib/profile.ts';
import { fmt } from '../lib/report.ts';
import { formatStoreCases, storeSchemaCases } from '../lib/store-schema.ts';
import { FAST_QPS, startE2e } from './writes.ts';

async function profiled(
  ctx: BenchContext,
  dir: string,
  what: string,
  path: string,
  concurrency: number,
  body: (offset: number) => (seq: number) => Buffer,
): Promise<void> {
  const out = join(dir, what);
  mkdirSync(out, { recursive: true });
  const zen = await startZenStandalone({ unlimited: true, profileDir: out });
  let rate = 0;
  try {
    const target = `${zen.url}${path}`;
    await runLoad({ target, rate: 'max', durationMs: 2000, concurrency, body: body(ctx.nextOffset()) });
    const r = await runLoad({
      target,
      rate: 'max',
      durationMs: ctx.pick(8000, 3000),
      concurrency,
      body: body(ctx.nextOffset()),
    });
    rate = r.okRate;
  } finally {
    await zen.stop();
  }
  for (const file of profilesIn(out)) {
    process.stdout.write(
      `\n${formatProfile(summarizeProfile(file, 25), `CPU profile, ${what} (${fmt(rate)} req/s while profiled)`)}\n`,
    );
  }
  ctx.report.note(`profile ${what}: ${out}`);
}

export async function profilePart(
  ctx: BenchContext,
  dir: string,
  kube: () => Promise<KubeBench | string>,
): Promise<void> {
  await profiled(ctx, dir, 'ingest-falco-0pct-dup', '/ingest/falco', 16, (o) => falcoStream(0, o).body);
  const audit = auditBatchMaker(400);
  await profiled(ctx, dir, 'audit-400-event-batches', '/ingest/k8s-audit', 4, (o) => (seq) => audit.body(o + seq));

  // Kubernetes mode, end to end: Falco webhook → Observation (writes.ts startE2e), QPS raised.
  const k = await kube();
  if (typeof k === 'string') ctx.report.note(`profile of kubernetes-mode writes skipped: ${k}`);
  else {
    const out = join(dir, 'kubernetes-webhook-writes');
    mkdirSync(out, { recursive: true });
    const { zen, url } = await startE2e(k, FAST_QPS, out);
    let rate = 0;
    try {
      await runLoad({
        target: url,
        rate: 'max',
        durationMs: 2000,
        concurrency: 16,
        body: falcoStream(0, ctx.nextOffset()).body,
      });
      const r = await runLoad({
        target: url,
        rate: 'max',
        durationMs: ctx.pick(8000, 3000),
        concurrency: 16,
        body: falcoStream(0, ctx.nextOffset()).body,
      });
      rate = r.okRate;
    } finally {
      await zen.stop();
    }
    for (const file of profilesIn(out)) {
      process.stdout.write(
        `\n${formatProfile(summarizeProfile(file, 25), `CPU profile, kubernetes-mode webhook writes (${fmt(rate)} obs/s while profiled)`)}\n`,
      );
    }
    ctx.report.note(`profile kubernetes-webhook-writes: ${out}`);
  }

  // The store's insert cost by schema (in this process; no zen-watcher).
  const rows = ctx.pick(30_000, 5_000);
  const cases = storeSchemaCases(rows);
  process.stdout.write(`\n${formatStoreCases(cases, rows)}\n`);
  for (const c of cases) {
    ctx.report.note(
      `store, ${c.name}: ${fmt(c.usPerInsert)} µs per insert (max ${fmt(c.maxMs)} ms), ${fmt(c.kbPerRow)} KB per row on disk`,
    );
  }

  // Idle RSS with its parts, as `npm start` runs (its start flags, the start-up collection of ADR 0034). V8 flags in
  // NODE_OPTIONS do not change the young generation here: the start script's own --max-semi-space-size wins.
  {
    const zen = await startZenStandalone();
    try {
      const rss = await settledRssMb(zen.pid);
      const t = await metricsText(zen.url);
      const mb = (name: string) => fmt(metricValue(t, name) / 1024 / 1024);
      ctx.report.note(
        `idle RSS as npm start runs: ${fmt(rss)} MB (V8 heap ${mb('zen_watcher_nodejs_heap_size_used_bytes')} used of ${mb('zen_watcher_nodejs_heap_size_total_bytes')} MB, external ${mb('zen_watcher_nodejs_external_memory_bytes')} MB)`,
      );
    } finally {
      await zen.stop();
    }
  }
}
