/**
 * 7. Delivery to Destinations does not slow ingestion, and a dead destination does not slow the others.
 * Falco webhook ingest (0 % duplicates, saturation, 16 connections) into a standalone zen-watcher, measured
 *   a) with no Destination,
 *   b) with one cloudevents Destination `good` (a local receiver answering 200) on the falco Ingester, and
 *   c) with `good` and `dead` (answering 500 forever, maxBacklog 1,000).
 * Rows: c vs b (what a dead destination costs ingestion: the target) and b vs a (what delivering costs: the same
 * process sends every Observation over HTTP). Notes: how long `good` needs to drain after the load stops, whether
 * it got every Observation exactly once, and whether `dead`'s backlog stayed within its bound, the rest counted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { runLoad } from '../../../scripts/loadgen.ts';
import { REPO } from '../../support/host.ts';
import { Receiver } from '../../support/receiver.ts';
import { type BenchContext, median } from '../lib/context.ts';
import { falcoStream } from '../lib/payloads.ts';
import { cpuSeconds, metricsText, metricValue, startZenStandalone } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';
import { CONNECTIONS, lat } from './ingest.ts';

const FALCO = '/ingest/falco';

function destination(name: string, url: string, extra: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Destination',
    metadata: { name, namespace: 'default' },
    spec: { type: 'cloudevents', url, ...extra },
  });
}

export async function destinationsPart(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  const ms = ctx.quick ? 3000 : 8000;
  const rounds = ctx.quick ? 1 : 3;
  const good = await new Receiver().start();
  const dead = await new Receiver().start();
  dead.failWith = 500;
  const falco = parse(readFileSync(join(REPO, 'config/standalone/falco.yaml'), 'utf8')) as {
    metadata: { namespace?: string };
    spec: Record<string, unknown>;
  };
  falco.spec.rateLimit = { enabled: false };
  const uses = (names: string[]) => ({
    ...falco,
    spec: { ...falco.spec, destinations: names.map((name) => ({ type: 'destination', name, namespace: 'default' })) },
  });
  const run = async (names: string[]) => {
    const withDestinations = names.length > 0;
    good.accepted.clear();
    const zen = await startZenStandalone({
      unlimited: true,
      ...(withDestinations
        ? {
            extra: {
              'falco.yaml': stringify(uses(names)),
              'good.yaml': destination('good', good.url),
              'dead.yaml': destination('dead', dead.url, {
                delivery: { maxBacklog: 1000, minBackoff: '100ms', maxBackoff: '1s' },
              }),
            },
          }
        : {}),
    });
    const target = `${zen.url}${FALCO}`;
    try {
      await runLoad({
        target,
        rate: 'max',
        durationMs: 1500,
        concurrency: CONNECTIONS,
        body: falcoStream(0, ctx.nextOffset()).body,
      });
      const cpu0 = cpuSeconds(zen.pid);
      const created0 = metricValue(await metricsText(zen.url), 'zen_watcher_observations_created_total', {
        source: 'falco',
      });
      const rs = [];
      for (let i = 0; i < rounds; i++) {
        const s = falcoStream(0, ctx.nextOffset());
        rs.push(await runLoad({ target, rate: 'max', durationMs: ms, concurrency: CONNECTIONS, body: s.body }));
      }
      const r = median(rs, (x) => x.okRate);
      let drainMs = 0;
      let text = await metricsText(zen.url);
      if (withDestinations) {
        const t0 = Date.now();
        const labels = { destination: 'default/good', type: 'cloudevents' };
        while (Date.now() - t0 < 600_000) {
          text = await metricsText(zen.url);
          const created = metricValue(text, 'zen_watcher_observations_created_total', { source: 'falco' });
          // Drained: everything delivered, or given up past good's own bound (counted; reported below).
          const settled =
            metricValue(text, 'zen_watcher_destination_delivered_total', labels) +
            (metricValue(text, 'zen_watcher_destination_dropped_total', { ...labels, reason: 'backlog_full' }) || 0);
          if (settled >= created) break;
          await new Promise((res) => setTimeout(res, 200));
        }
        drainMs = Date.now() - t0;
        text = await metricsText(zen.url);
      }
      // CPU per Observation written, over the measured rounds and (with Destinations) until 'good' has settled
      // them: ingest plus delivery, far less sensitive to other load on the machine than a rate.
      const written = metricValue(text, 'zen_watcher_observations_created_total', { source: 'falco' }) - created0;
      const cpuUsPerObs = ((cpuSeconds(zen.pid) - cpu0) * 1e6) / Math.max(1, written);
      return { r, drainMs, text, cpuUsPerObs };
    } finally {
      await zen.stop();
    }
  };
  try {
    const none = await run([]);
    const goodOnly = await run(['good']);
    const goodDistinct = good.accepted.size;
    const both = await run(['good', 'dead']);
    const created = metricValue(both.text, 'zen_watcher_observations_created_total', { source: 'falco' });
    const lab = (name: string) => ({ destination: `default/${name}`, type: 'cloudevents' });
    const delivered = metricValue(both.text, 'zen_watcher_destination_delivered_total', lab('good'));
    const deadBacklog = metricValue(both.text, 'zen_watcher_destination_backlog', lab('dead'));
    const dropped = metricValue(both.text, 'zen_watcher_destination_dropped_total', {
      ...lab('dead'),
      reason: 'backlog_full',
    });
    const ratio = both.r.okRate / goodOnly.r.okRate;
    const met = ratio >= 0.9;
    report.add({
      section: 7,
      name: "falco webhook saturation, Destinations 'good' + 'dead' (500 forever)",
      unit: 'ev/s',
      value: both.r.okRate,
      detail: `${lat(both.r)}; 'good' drained ${fmt(both.drainMs / 1000)} s after the load`,
      baseline: goodOnly.r.okRate,
      baselineDetail: `${lat(goodOnly.r)}; drained ${fmt(goodOnly.drainMs / 1000)} s after`,
      baselineName: "'good' only",
      better: 'higher',
      target: {
        text: "≥ 90 % of 'good' only",
        met,
        ...(met ? {} : { miss: `${fmt(100 * ratio)} % of 'good' only` }),
      },
    });
    report.add({
      section: 7,
      name: "falco webhook saturation, Destination 'good' (every Observation sent over HTTP)",
      unit: 'ev/s',
      value: goodOnly.r.okRate,
      detail: lat(goodOnly.r),
      baseline: none.r.okRate,
      baselineDetail: lat(none.r),
      baselineName: 'no Destination',
      better: 'higher',
    });
    // 'good' has the default bound (maxBacklog 10,000): when saturated ingest outruns one receiver for long enough,
    // it gives up its oldest too (counted). Exact = every Observation delivered once or counted as given up.
    const goodDropped =
      metricValue(both.text, 'zen_watcher_destination_dropped_total', { ...lab('good'), reason: 'backlog_full' }) || 0;
    const cpuRatio = both.cpuUsPerObs / goodOnly.cpuUsPerObs;
    report.add({
      section: 7,
      name: "CPU per Observation written (ingest + delivery until settled), 'good' + 'dead'",
      unit: 'µs',
      value: both.cpuUsPerObs,
      detail: 'zen-watcher process user + system CPU',
      baseline: goodOnly.cpuUsPerObs,
      baselineDetail: `no Destination: ${fmt(none.cpuUsPerObs)} µs`,
      baselineName: "'good' only",
      better: 'lower',
      target: {
        text: "≤ 110 % of 'good' only",
        met: cpuRatio <= 1.1,
        ...(cpuRatio <= 1.1 ? {} : { miss: `${fmt(100 * cpuRatio)} % of 'good' only` }),
      },
    });
    const exact = delivered + goodDropped === created && good.duplicates() === 0 && good.accepted.size === delivered;
    report.note(
      `destinations: 'good' only: ${fmt(goodDistinct)} distinct delivered; 'good' + 'dead': ${fmt(created)} Observations written, 'good' got ${fmt(good.accepted.size)} distinct (${fmt(good.duplicates())} duplicates), gave up ${fmt(goodDropped)} past its bound (maxBacklog 10,000)${exact ? ' (exact)' : ' (MISMATCH)'}; 'dead' (500 forever, maxBacklog 1,000): backlog ${fmt(deadBacklog)}, dropped ${fmt(dropped)} (backlog + dropped = ${fmt(deadBacklog + dropped)}), ${fmt(dead.requests.length)} tries`,
    );
  } finally {
    await good.close();
    await dead.close();
  }
}
