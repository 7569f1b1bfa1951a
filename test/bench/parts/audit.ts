/**
 * 3. Audit batches: kube-apiserver audit webhook batches (EventList of 400 events built from the real corpus,
 * auditIDs distinct across batches) posted to `/ingest/k8s-audit` of zen-watcher in standalone mode, closed loop
 * at 4 connections (several API servers sending). Baseline: bare-server.ts with the same bodies.
 */
import { runLoad } from '../../../scripts/loadgen.ts';
import { type BenchContext, median } from '../lib/context.ts';
import { watchNoise } from '../lib/machine.ts';
import { auditBatchMaker } from '../lib/payloads.ts';
import { cpuSeconds, metricsText, metricValue, startBare, startZenStandalone } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';
import { lat } from './ingest.ts';

const AUDIT = '/ingest/k8s-audit';
const BATCH = 400;
/** Issue #18: at least 3× the audit events/s of the table it was filed against (5,857/s on 2026-11-26). */
const ISSUE18_EVENTS = 3 * 5857;
const CONNECTIONS = 4;

export async function auditPart(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  const ms = ctx.pick(5000, 2500);
  const rounds = ctx.pick(3, 1);
  const maker = auditBatchMaker(BATCH);
  let batch = 0;
  const body = () => {
    const from = batch;
    batch += 1_000_000;
    return (seq: number) => maker.body(from + seq);
  };
  const bare = await startBare();
  const zen = await startZenStandalone({ probe: true, unlimited: true });
  try {
    const noise = watchNoise();
    const zenUrl = `${zen.url}${AUDIT}`;
    const bareUrl = `${bare.url}${AUDIT}`;
    await runLoad({ target: zenUrl, rate: 'max', durationMs: 2000, concurrency: CONNECTIONS, body: body() });
    await runLoad({ target: bareUrl, rate: 'max', durationMs: 1000, concurrency: CONNECTIONS, body: body() });
    const before = metricValue(await metricsText(zen.url), 'zen_watcher_observations_created_total', {
      source: 'audit',
    });
    const zs = [];
    const bs = [];
    let zenBatches = 0;
    for (let i = 0; i < rounds; i++) {
      const c0 = cpuSeconds(zen.pid);
      const z = await runLoad({ target: zenUrl, rate: 'max', durationMs: ms, concurrency: CONNECTIONS, body: body() });
      zs.push({ r: z, cores: (cpuSeconds(zen.pid) - c0) / (z.elapsedMs / 1000) });
      zenBatches += z.statuses['200'] ?? 0;
      const b = await runLoad({ target: bareUrl, rate: 'max', durationMs: ms, concurrency: CONNECTIONS, body: body() });
      bs.push({ r: b });
    }
    const created =
      metricValue(await metricsText(zen.url), 'zen_watcher_observations_created_total', { source: 'audit' }) - before;
    const z = median(zs, (x) => x.r.okRate);
    const b = median(bs, (x) => x.r.okRate);
    report.add({
      section: 3,
      name: `audit EventList (${BATCH} events), 4 connections`,
      unit: 'lists/s',
      value: z.r.okRate,
      detail: `${lat(z.r)}; ${z.cores.toFixed(2)} cores, ${fmt((z.cores * 1e6) / (z.r.okRate * BATCH))} µs CPU/event`,
      baseline: b.r.okRate,
      baselineDetail: lat(b.r),
      baselineName: 'bare node:http',
      better: 'higher',
    });
    const events = z.r.okRate * BATCH;
    const met = events >= ISSUE18_EVENTS;
    report.add({
      section: 3,
      name: 'audit events in those batches',
      unit: 'ev/s',
      value: events,
      baseline: b.r.okRate * BATCH,
      baselineName: 'bare node:http',
      better: 'higher',
      target: {
        text: `≥ ${fmt(ISSUE18_EVENTS)} ev/s (issue #18: 3× the 5,857 of 2026-11-26)`,
        met,
        ...(met ? {} : { miss: `${fmt(events / 5857)}× the 5,857` }),
      },
    });
    const n = noise();
    report.note(
      `audit: ${maker.bases} real v1 events cycled into batches; ${fmt(created / Math.max(1, zenBatches))} Observations per batch matched the default rules (${fmt(created)} in ${fmt(zenBatches)} measured batches); background CPU ${fmt(n.otherPct)} %, load ${fmt(n.load1)}`,
    );
  } finally {
    await zen.stop();
    await bare.stop();
  }
}
