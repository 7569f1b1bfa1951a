/**
 * 6. Memory: RSS of zen-watcher in standalone mode with every built-in plugin and the default Ingesters, idle; and
 * after 100,000 distinct Falco alerts filled the dedup cache (ZEN_DEDUP_MAX_ENTRIES default 100,000), sent as 200
 * JSON arrays of 500. Baseline: the bare node:http server, idle and after the same 200 requests. RSS is the lowest
 * of five samples after the process has been idle for 3 s. (RSS while watching reports is in the informer part.)
 */
import { runLoad } from '../../../scripts/loadgen.ts';
import type { BenchContext } from '../lib/context.ts';
import { falcoBatch } from '../lib/payloads.ts';
import { forceGc, metricsText, metricValue, settledRssMb, startBare, startZenStandalone } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';

const MB = 1024 * 1024;

export async function memoryPart(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  // Idle, exactly as `npm start` runs (no bench plugin, default limits).
  const zen = await startZenStandalone();
  const bare = await startBare();
  try {
    const [z, b] = [await settledRssMb(zen.pid), await settledRssMb(bare.pid, 0)];
    const text = await metricsText(zen.url);
    const plugins = [...text.matchAll(/^zen_watcher_plugins\{plugin="([^"]+)",[^}]*status="loaded"\} 1$/gm)].map(
      (m) => m[1],
    );
    const met = z <= 120;
    report.add({
      section: 6,
      name: `RSS idle, standalone, ${plugins.length} built-in plugins`,
      unit: 'MB',
      value: z,
      detail: `V8 heap ${fmt(metricValue(text, 'zen_watcher_nodejs_heap_size_used_bytes') / MB)} used of ${fmt(metricValue(text, 'zen_watcher_nodejs_heap_size_total_bytes') / MB)}, external ${fmt(metricValue(text, 'zen_watcher_nodejs_external_memory_bytes') / MB)}`,
      baseline: b,
      baselineName: 'bare node:http, idle',
      better: 'lower',
      target: { text: '≤ 120 MB', met, ...(met ? {} : { miss: `${fmt(z - 120)} MB over` }) },
      note: plugins.join(', '),
    });
    report.note(`memory: plugins loaded for the idle figure: ${plugins.join(', ')}`);
  } finally {
    await zen.stop();
    await bare.stop();
  }

  const entries = 100_000;
  const per = 500;
  // The probe (with --expose-gc) can collect garbage on request: the detail gives live memory as well.
  const zen2 = await startZenStandalone({ unlimited: true, probe: true, env: { NODE_OPTIONS: '--expose-gc' } });
  const bare2 = await startBare();
  try {
    const heapUsed = async () => metricValue(await metricsText(zen2.url), 'zen_watcher_nodejs_heap_size_used_bytes');
    // The dedup cache lives in ArrayBuffers (ADR 0032), counted in external memory, not in the V8 heap.
    const external = async () => metricValue(await metricsText(zen2.url), 'zen_watcher_nodejs_external_memory_bytes');
    const heapTotal = async () => metricValue(await metricsText(zen2.url), 'zen_watcher_nodejs_heap_size_total_bytes');
    await forceGc(zen2.url);
    const heap0 = await heapUsed();
    const external0 = await external();
    const bodies = (seq: number) => falcoBatch(seq * per, per);
    const send = (url: string) =>
      runLoad({
        target: `${url}/ingest/falco`,
        rate: 'max',
        durationMs: 600_000,
        concurrency: 1,
        body: bodies,
        maxRequests: entries / per,
      });
    const zr = await send(zen2.url);
    await send(bare2.url);
    const dedup = metricValue(await metricsText(zen2.url), 'zen_watcher_dedup_entries');
    const [z, b] = [await settledRssMb(zen2.pid), await settledRssMb(bare2.pid, 0)];
    const heapBefore = await heapUsed();
    await forceGc(zen2.url);
    const heap1 = await heapUsed();
    const total1 = await heapTotal();
    const external1 = await external();
    const zGc = await settledRssMb(zen2.pid, 1000);
    report.add({
      section: 6,
      name: `RSS with ${fmt(dedup)} dedup entries (after ${fmt(entries)} distinct alerts)`,
      unit: 'MB',
      value: z,
      detail: `V8 heap ${fmt(heapBefore / MB)} used; after a full GC: RSS ${fmt(zGc)}, heap ${fmt(heap1 / MB)} used of ${fmt(total1 / MB)}, external ${fmt(external1 / MB)}, i.e. ${fmt((heap1 + external1 - heap0 - external0) / entries)} B live per entry (heap and external); ${fmt(zr.okRate * per)} alerts/s in arrays of ${per}`,
      baseline: b,
      baselineName: 'bare node:http after the same requests',
      better: 'lower',
    });
  } finally {
    await zen2.stop();
    await bare2.stop();
  }
}
