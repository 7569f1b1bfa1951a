/**
 * 5. Failover: two zen-watcher replicas in kubernetes mode on the real control plane, default lease timings
 * (ZEN_LEASE_DURATION_SECONDS 15, ZEN_RENEW_DEADLINE_SECONDS 10, ZEN_RETRY_PERIOD_SECONDS 2). A trial stops the
 * leader — SIGTERM (graceful) or SIGKILL (crash) — and measures the time from the signal to the moment another
 * replica starts its leader work (the leader-recorder test plugin's `start` record, same machine clock). A new
 * replica replaces the stopped one before the next trial, so there are always two.
 * Baseline: PlainElector (lib/plain-elector.ts), a minimal client-node Lease elector with the same timings and
 * no Lease watch, in this process: release + retry for graceful, expiry + retry for crash.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { cleanup, tempDir } from '../../support/host.ts';
import { type BenchContext, percentile } from '../lib/context.ts';
import { isLeader, type KubeBench, LEADER_RECORDER, startReplica, waitFor, ZEN_NS } from '../lib/kube.ts';
import { watchNoise } from '../lib/machine.ts';
import { PlainElector } from '../lib/plain-elector.ts';
import { waitReady, type Zen } from '../lib/procs.ts';
import { fmt } from '../lib/report.ts';

const LEASE_S = 15;
const RETRY_S = 2;

interface LeaderEvent {
  event: 'start' | 'stop';
  identity: string;
  t: number;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: percentile(s, 50), max: s.at(-1) ?? Number.NaN, min: s[0] ?? Number.NaN };
};

/** Baseline trials, all at once (each on its own Lease; they only wait on timers). */
async function plainTrials(k: KubeBench, trials: number, kind: 'graceful' | 'crash'): Promise<number[]> {
  const api = k.kc.makeApiClient(CoordinationV1Api);
  const one = async (i: number) => {
    const name = `plain-${kind}-${Date.now().toString(36)}-${i}`;
    let bLedAt = 0;
    const mk = (id: string, onLead: (t: number) => void) =>
      new PlainElector({
        api,
        namespace: ZEN_NS,
        name,
        identity: id,
        leaseMs: LEASE_S * 1000,
        retryMs: RETRY_S * 1000,
        onLead,
      });
    const a = mk('a', () => {});
    const b = mk('b', (t) => {
      bLedAt = t;
    });
    a.start();
    await waitFor('plain elector a to lead', async () => a.leading, 30_000, 20);
    b.start();
    // Let b read the Lease a few times, as a long-running follower has.
    await sleep(RETRY_S * 1000 * 2 + Math.random() * RETRY_S * 1000);
    const t0 = Date.now();
    if (kind === 'graceful') await a.release();
    else await a.crash();
    await waitFor('plain elector b to lead', async () => bLedAt > 0, 60_000, 10);
    await b.release();
    return bLedAt - t0;
  };
  return Promise.all(Array.from({ length: trials }, (_, i) => one(i)));
}

export async function failoverPart(ctx: BenchContext, kube: () => Promise<KubeBench | string>): Promise<void> {
  const { report } = ctx;
  const k = await kube();
  if (typeof k === 'string') {
    report.skip({ section: 5, name: 'failover', reason: k });
    return;
  }
  const trials = ctx.pick(10, 2);
  const noise = watchNoise();
  const logDir = tempDir('zw-bench-leader-');
  const log = join(logDir, 'leader.jsonl');
  writeFileSync(log, '');
  const events = (): LeaderEvent[] =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LeaderEvent);
  const electionId = `failover-${Date.now().toString(36)}`;
  let n = 0;
  const names = new Map<Zen, string>();
  const replica = async () => {
    const name = `fo-${n++}`;
    const z = await startReplica(k, {
      name,
      electionId,
      plugins: [LEADER_RECORDER],
      env: { ZEN_TEST_LEADER_LOG: log },
    });
    await waitReady(z.url);
    names.set(z, name);
    return z;
  };

  // The baseline trials run meanwhile, in this process (they only wait on timers and make a request per retry).
  const plainRuns = (async () => {
    const graceful = await plainTrials(k, trials, 'graceful');
    const crash = await plainTrials(k, trials, 'crash');
    return { graceful, crash };
  })();

  let reps = [await replica(), await replica()];
  const results: Record<'graceful' | 'crash', number[]> = { graceful: [], crash: [] };
  try {
    await waitFor('a leader', async () => (await Promise.all(reps.map((r) => isLeader(r.url)))).includes(true));
    await sleep(2000); // the follower's Lease watch is open
    for (const kind of ['graceful', 'crash'] as const) {
      for (let t = 0; t < trials; t++) {
        const flags = await Promise.all(reps.map((r) => isLeader(r.url)));
        const leader = reps[flags.indexOf(true)];
        if (!leader) throw new Error('no leader before the trial');
        const others = reps.filter((r) => r !== leader);
        const t0 = Date.now();
        const stopped = leader.stop(kind === 'graceful' ? 'SIGTERM' : 'SIGKILL');
        // After a crash the replacement starts at once (it cannot lead first: it observes the Lease later than the
        // surviving follower). After SIGTERM it starts once the handover is done: a Node start costs about a second
        // of CPU, which on 2 cores would slow the handover being measured.
        const replacement = kind === 'crash' ? replica() : undefined;
        const started = await waitFor(
          `a new leader after ${kind} stop`,
          async () => events().find((e) => e.event === 'start' && e.t >= t0 && e.identity !== names.get(leader)),
          60_000,
          10,
        );
        results[kind].push(started.t - t0);
        await stopped;
        reps = [...others, await (replacement ?? replica())];
        // The replacement must be a settled follower (Lease read, Lease watch open) before the next trial.
        await sleep(2000);
        process.stderr.write(`    ${kind} trial ${t + 1}: ${fmt(started.t - t0)} ms\n`);
      }
    }
  } finally {
    await Promise.all(reps.map((r) => r.stop('SIGKILL')));
    cleanup(logDir);
  }
  const { graceful: plainGraceful, crash: plainCrash } = await plainRuns;
  const g = stats(results.graceful);
  const c = stats(results.crash);
  const pg = stats(plainGraceful);
  const pc = stats(plainCrash);
  const gMet = g.median < 1000;
  report.add({
    section: 5,
    name: `graceful failover (SIGTERM), median of ${trials}`,
    unit: 'ms',
    value: g.median,
    detail: `min ${fmt(g.min)}, max ${fmt(g.max)}`,
    baseline: pg.median,
    baselineDetail: `max ${fmt(pg.max)}`,
    baselineName: 'plain client-node elector (release, no watch)',
    better: 'lower',
    target: { text: 'median < 1 s', met: gMet, ...(gMet ? {} : { miss: `${fmt(g.median - 1000)} ms over` }) },
  });
  const bound = (LEASE_S + RETRY_S) * 1000;
  const cMet = c.median <= bound;
  report.add({
    section: 5,
    name: `crash failover (SIGKILL), median of ${trials}`,
    unit: 'ms',
    value: c.median,
    detail: `min ${fmt(c.min)}, max ${fmt(c.max)}`,
    baseline: pc.median,
    baselineDetail: `max ${fmt(pc.max)}`,
    baselineName: 'plain client-node elector',
    better: 'lower',
    target: {
      text: `≤ lease + retry = ${LEASE_S + RETRY_S} s (median)`,
      met: cMet,
      ...(cMet
        ? c.max > bound
          ? { miss: `max ${fmt(c.max - bound)} ms over` }
          : {}
        : { miss: `median ${fmt(c.median - bound)} ms over, max ${fmt(c.max - bound)} ms over` }),
    },
  });
  const nz = noise();
  report.note(
    `failover: graceful ${results.graceful.map((x) => fmt(x)).join(', ')} ms; crash ${results.crash.map((x) => fmt(x)).join(', ')} ms; baseline graceful ${plainGraceful.map((x) => fmt(x)).join(', ')} ms, crash ${plainCrash.map((x) => fmt(x)).join(', ')} ms; timings lease ${LEASE_S} s, renew 10 s, retry ${RETRY_S} s (defaults); background CPU ${fmt(nz.otherPct)} %, load ${fmt(nz.load1)}`,
  );
}
