/**
 * High availability, proven (DESIGN §7, docs/HIGH_AVAILABILITY.md): three zen-watcher processes in kubernetes mode
 * on the real control plane, under continuous load — Trivy VulnerabilityReports and Kyverno PolicyReports created,
 * updated and deleted; Falco alerts and audit EventLists sent round-robin to every replica by a client that retries
 * on another replica — while faults are injected, each ZEN_HA_ROUNDS times (default 5):
 *
 *   kill9-leader      SIGKILL the leader                       (crash failover)
 *   sigterm-leader    SIGTERM the leader                       (graceful handover)
 *   sigstop-leader    SIGSTOP the leader for lease + 2 s       (paused leader: it must not act when it resumes)
 *   cut-leader        drop the leader's API connection (proxy) (partition: it must stop before another starts)
 *   kill9-follower    SIGKILL a follower
 *   restart-in-burst  SIGTERM a replica (leader and follower in turn) during a burst of reports and webhooks
 *
 * Killed replicas are restarted, so three run. After the load stops and the system settles it asserts: exactly the
 * expected Observations (the same plugins in the test kit are the oracle: none missing, none duplicated, Resolved
 * where the finding went away); no two replicas did leader work at once (terms and leader-only writes recorded by
 * test/ha/fixtures/ha-recorder); a paused leader wrote nothing after it resumed; every webhook was accepted (2xx).
 * It prints the failover measurements (t.diagnostic) and, with ZEN_HA_REPORT=file, writes them as JSON.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeApi, type KubeApi } from '../../core/kube/api.ts';
import { createInformer } from '../../core/kube/informer.ts';
import { controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { realFixturesDir, requireRealFixtures } from '../support/fixtures.ts';
import { cleanup, REPO, tempDir } from '../support/host.ts';
import {
  intervals,
  type LogEvent,
  overlaps,
  type ProcessFault,
  readLog,
  terms,
  writes,
  writesAfterResume,
  writesOutsideTerms,
} from './support/leader-log.ts';
import {
  applyCrds,
  type ExpectedInformer,
  InformerOracle,
  type IngesterDef,
  informerSources,
  ingesterObject,
  key,
  ReportLoad,
  WebhookOracle,
  WebhookPayloads,
} from './support/load.ts';
import { counter, leaderGauge, type Replica, ReplicaSet, ready, scrape } from './support/replicas.ts';
import { summary, waitFor } from './support/stats.ts';
import { WebhookClient } from './support/webhook-client.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-system';
const LOAD_NS = 'ha-load';
const T = { lease: 4, renew: 3, retry: 1 };
const ROUNDS = Number(process.env.ZEN_HA_ROUNDS ?? 5);
/** Falco's dedup window; '0s' (identity forever) as recommended for HA — see docs/HIGH_AVAILABILITY.md. */
const FALCO_WINDOW = process.env.ZEN_HA_FALCO_WINDOW ?? '0s';
const WEBHOOK_EVERY_MS = 250;
const REPORT_EVERY_MS = 2000;
/** How long each report state lasts (before its update, before its deletion). */
const STATE_MS: [number, number] = [15_000, 20_000];
const GAP_MS = 2000;
/**
 * Crash failover bound: lease duration + retry period, from the kill to the new leader's first leader work.
 * Followers feed every Lease renewal they see on their watch to the elector and schedule their next attempt at
 * the lease's expiry (core/leader observe()), so the takeover follows expiry by one attempt's latency.
 */
const CRASH_BOUND_MS = (T.lease + T.retry) * 1000;
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };

const KINDS = [
  'kill9-leader',
  'sigterm-leader',
  'sigstop-leader',
  'cut-leader',
  'kill9-follower',
  'restart-in-burst',
] as const;
type Kind = (typeof KINDS)[number];

interface Round {
  kind: Kind;
  n: number;
  victim: string;
  victimWasLeader: boolean;
  /** The fault was injected (ms, local clock). */
  at: number;
  /** The round's recovery was complete (new leader, replica restarted). */
  end: number;
  newLeader?: string;
  /** The new leader's recorded term start. */
  newStart?: number;
  /** restart-in-burst: when the burst began. */
  burstAt?: number;
  m: Record<string, number | string | boolean>;
}

interface ObsItem {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { source: string; fingerprint: string; details?: Record<string, unknown> };
  status?: { phase?: string };
}

const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

describe('high availability: three replicas under load and faults', { skip }, () => {
  test(`exact Observations, no overlapping leader work, every webhook accepted, over ${ROUNDS}× each fault`, {
    timeout: 30 * 60_000,
  }, async (t) => {
    for (const tool of ['trivy', 'kyverno', 'falco', 'audit']) if (!requireRealFixtures(t, tool)) return;
    const fixtures = realFixturesDir()!;
    const work = tempDir('zw-ha-');
    const leaderLog = join(work, 'leader.jsonl');
    writeFileSync(leaderLog, '');
    const kc = new KubeConfig(); // the API client's, and the Observation informer's below
    kc.loadFromFile(cp!.kubeconfigPath);
    const api: KubeApi = createKubeApi(kc);
    const stopAll = new AbortController();
    const set = new ReplicaSet(cp!, work, {
      POD_NAMESPACE: NS,
      ZEN_LEASE_DURATION_SECONDS: String(T.lease),
      ZEN_RENEW_DEADLINE_SECONDS: String(T.renew),
      ZEN_RETRY_PERIOD_SECONDS: String(T.retry),
      ZEN_RESOLVE_AFTER_SECONDS: '2',
      ZEN_TEST_LEADER_LOG: leaderLog,
      ZEN_TEST_HEARTBEAT_MS: '1000',
      ZEN_DATA_DIR: join(work, 'data'),
    });
    let passed = false;
    /** Stops the load and closes the oracles, also when the test fails half-way (else the process never ends). */
    const cleanups: (() => Promise<void> | void)[] = [];
    const suiteStart = Date.now();
    const loadavgAtStart = loadavg().map((x) => Math.round(x * 10) / 10);
    try {
      // 1. Namespaces, CRDs, Ingesters.
      await ensureNamespaces(api, NS, LOAD_NS);
      const wanted = (process.env.ZEN_HA_INFORMER_SOURCES ?? 'trivy,kyverno').split(',').filter(Boolean);
      let sources = informerSources(fixtures, wanted);
      const missing = wanted.filter((w) => !sources.some((s) => s.source === w));
      if (missing.length) {
        t.diagnostic(`informer plugins not present: ${missing.join(', ')} — running without them`);
        if (sources.length === 0) sources = informerSources(fixtures, ['ha-cm']);
      }
      await applyCrds(
        api,
        sources.flatMap((s) => s.crds),
      );
      const webhookDefs: { pluginDir: string; def: IngesterDef }[] = [
        {
          pluginDir: join(REPO, 'plugins/falco'),
          def: {
            name: 'falco',
            namespace: NS,
            spec: {
              source: 'falco',
              ingester: 'webhook',
              webhook: { path: '/ingest/falco' },
              deduplication: { window: FALCO_WINDOW },
            },
          },
        },
        {
          pluginDir: join(REPO, 'plugins/audit'),
          def: {
            name: 'audit',
            namespace: NS,
            spec: {
              source: 'audit',
              ingester: 'webhook',
              webhook: { path: '/ingest/audit' },
              deduplication: { window: '0s' },
            },
          },
        },
      ];
      const informerDefs = new Map<string, IngesterDef>(
        sources.map((s) => [
          s.source,
          {
            name: s.source,
            namespace: NS,
            spec: { source: s.source, plugin: s.handler, ingester: 'informer', ...s.spec },
          },
        ]),
      );
      const defs: IngesterDef[] = [
        ...webhookDefs.map((w) => w.def),
        ...informerDefs.values(),
        { name: 'ha-heartbeat', namespace: NS, spec: { source: 'ha-heartbeat', ingester: 'informer' } },
      ];
      for (const d of defs) {
        await api.create({ ...ING, namespace: NS, body: ingesterObject(d) }).catch((err: { code?: number }) => {
          if (err.code !== 409) throw err;
        });
      }

      // 2. Three replicas and a leader.
      await Promise.all(['r1', 'r2', 'r3'].map((s) => set.start(s)));
      const events = (): LogEvent[] => readLog(leaderLog);
      const faults: ProcessFault[] = [];
      /** The replica whose term is open (and that is alive), if exactly one. */
      const leaderNow = (): Replica | undefined => {
        const open = new Set<string>();
        for (const e of terms(events()).sort((a, b) => a.t - b.t)) {
          if (e.event === 'start') open.add(e.identity);
          else open.delete(e.identity);
        }
        const live = set.live.filter((r) => open.has(r.identity) && !r.stopped);
        return live.length === 1 ? live[0] : undefined;
      };
      const waitStart = (exclude: string, since: number, timeoutMs = 20_000) =>
        waitFor(
          `a new leader term after ${exclude}`,
          () => terms(events()).find((e) => e.event === 'start' && e.t >= since && e.identity !== exclude),
          timeoutMs,
          20,
        );
      const waitStop = (identity: string, since: number, timeoutMs = 20_000) =>
        waitFor(
          `${identity} to record the end of its term`,
          () => terms(events()).find((e) => e.event === 'stop' && e.t >= since && e.identity === identity),
          timeoutMs,
          20,
        );
      /** Three running, ready replicas; one leader, in its term for ≥ 1 s, the only one whose gauge says 1. */
      const healthy = () =>
        waitFor(
          'a healthy set (3 ready replicas, one leader)',
          async () => {
            const live = set.live.filter((r) => !r.stopped);
            if (live.length !== 3) return undefined;
            if (!(await Promise.all(live.map((r) => ready(r)))).every(Boolean)) return undefined;
            const l = leaderNow();
            if (!l) return undefined;
            const start = terms(events())
              .filter((e) => e.identity === l.identity && e.event === 'start')
              .at(-1)!;
            if (Date.now() - start.t < 1000) return undefined;
            const gauges = await Promise.all(live.map((r) => leaderGauge(r)));
            if (gauges.some((g, i) => (live[i] === l ? g !== 1 : g !== 0))) return undefined;
            return l;
          },
          60_000,
          100,
        );
      await healthy();
      // Webhook routes are live on every replica (a 4xx other than 404 means the route exists).
      for (const r of set.live) {
        for (const path of ['/ingest/falco', '/ingest/audit']) {
          await waitFor(`${r.identity} serves ${path}`, async () => {
            const res = await fetch(`${r.url}${path}`, {
              method: 'POST',
              body: '"x"',
              headers: { 'content-type': 'application/json' },
            });
            return res.status !== 404;
          });
        }
      }

      // 3. Observers: every Observation's first sighting (local clock), and the leader gauges of every replica.
      const firstSeen = new Map<string, number>();
      const resolvedSeen = new Map<string, number>();
      const see = (o: ObsItem) => {
        const k = key(o.spec.source, o.spec.fingerprint);
        if (!firstSeen.has(k)) firstSeen.set(k, Date.now());
        if (o.status?.phase === 'Resolved' && !resolvedSeen.has(k)) resolvedSeen.set(k, Date.now());
      };
      void createInformer<ObsItem>(
        kc,
        { group: OBS.group, version: OBS.version, resource: OBS.plural, signal: stopAll.signal },
        { add: see, update: see, synced: (all) => all.forEach(see) },
        { log: silentLog },
      );
      const doubleLeader: { t: number; ids: string[] }[] = [];
      const gaugeSampler = (async () => {
        while (!stopAll.signal.aborted) {
          const live = set.live.filter((r) => !r.stopped);
          const g = await Promise.all(live.map((r) => leaderGauge(r, 500)));
          const ids = live.filter((_r, i) => g[i] === 1).map((r) => r.identity);
          if (ids.length > 1) doubleLeader.push({ t: Date.now(), ids });
          await sleep(300);
        }
      })();

      // 4. Load.
      const oracle = await WebhookOracle.create(webhookDefs);
      cleanups.push(() => oracle.close());
      const payloads = new WebhookPayloads(fixtures, LOAD_NS);
      const expectedWebhook = new Map<string, string[]>();
      const client = new WebhookClient({ targets: () => set.live.map((r) => r.url) });
      cleanups.push(() => client.close());
      let webhookTurn = 0;
      const sendOne = async () => {
        const e = payloads.next(webhookTurn++ % 2 === 0 ? 'falco' : 'audit');
        const keys = await oracle.expect(e);
        assert.ok(keys.length > 0, `the oracle expects Observations from ${e.id}`);
        expectedWebhook.set(e.id, keys);
        client.send(e.id, e.path, e.body);
      };
      const webhookLoad = (async () => {
        while (!stopAll.signal.aborted) {
          await sendOne();
          await sleep(WEBHOOK_EVERY_MS, undefined, { signal: stopAll.signal }).catch(() => {});
        }
      })();
      const informerOracles = new Map<string, InformerOracle>();
      cleanups.push(async () => {
        for (const o of informerOracles.values()) await o.close();
      });
      for (const s of sources)
        informerOracles.set(s.source, await InformerOracle.create(s, informerDefs.get(s.source)!));
      const reports = new ReportLoad({
        api,
        sources,
        namespaces: [LOAD_NS],
        stateMs: STATE_MS,
        deleteRatio: 0.7,
        onStep: (h, step) => void informerOracles.get(h.source.source)!.apply(h, step),
      });
      cleanups.push(() => reports.stop());
      /** Every finding reported so far (creates and updates that landed) has its Observation. */
      const caughtUp = () =>
        [...informerOracles.values()].every((o) =>
          o.appeared.every((a) => a.step.op === 'delete' || a.keys.every((k) => firstSeen.has(k))),
        );
      reports.run(REPORT_EVERY_MS);
      await sleep(10_000); // steady state before the first fault

      // 5. Fault rounds.
      const rounds: Round[] = [];
      const leader = async () => (await healthy()) as Replica;
      const followerOf = (l: Replica) => {
        const f = set.live.filter((r) => r !== l && !r.stopped);
        return f[Math.floor(Math.random() * f.length)]!;
      };
      const run: Record<Kind, (r: Round) => Promise<void>> = {
        'kill9-leader': async (r) => {
          const l = await leader();
          Object.assign(r, { victim: l.identity, victimWasLeader: true, at: Date.now() });
          faults.push({ identity: l.identity, kind: 'kill', at: r.at });
          await set.signal(l, 'SIGKILL');
          const s = await waitStart(l.identity, r.at);
          Object.assign(r, { newLeader: s.identity, newStart: s.t });
          r.m.failoverMs = s.t - r.at;
          await set.start(l.slot);
        },
        'sigterm-leader': async (r) => {
          const l = await leader();
          Object.assign(r, { victim: l.identity, victimWasLeader: true, at: Date.now() });
          const exit = set.signal(l, 'SIGTERM');
          const s = await waitStart(l.identity, r.at);
          Object.assign(r, { newLeader: s.identity, newStart: s.t });
          r.m.failoverMs = s.t - r.at;
          r.m.exitCode = String(await exit);
          const stop = await waitStop(l.identity, r.at);
          r.m.stopToStartMs = s.t - stop.t;
          await set.start(l.slot);
        },
        'sigstop-leader': async (r) => {
          const l = await leader();
          Object.assign(r, { victim: l.identity, victimWasLeader: true, at: Date.now() });
          const fault: ProcessFault = { identity: l.identity, kind: 'stop', at: r.at };
          faults.push(fault);
          await set.signal(l, 'SIGSTOP');
          const s = await waitStart(l.identity, r.at);
          Object.assign(r, { newLeader: s.identity, newStart: s.t });
          r.m.failoverMs = s.t - r.at;
          const resumeAt = r.at + (T.lease + 2) * 1000;
          if (resumeAt > Date.now()) await sleep(resumeAt - Date.now());
          fault.resumedAt = Date.now();
          await set.signal(l, 'SIGCONT');
          r.m.stoppedMs = fault.resumedAt - r.at;
          // What it says about itself once resumed: the first answer of its gauge, and when it says 0.
          const first = await leaderGauge(l, 5000);
          r.m.gaugeFirstAfterResume = String(first);
          await waitFor(`${l.identity}'s gauge to say 0`, async () => (await leaderGauge(l, 2000)) === 0, 10_000, 10);
          r.m.gaugeZeroAfterResumeMs = Date.now() - fault.resumedAt;
          const stop = await waitStop(l.identity, r.at);
          r.m.stopAfterResumeMs = stop.t - fault.resumedAt;
          const after = writesAfterResume(events(), fault);
          r.m.writesAfterResume = after.length;
          r.m.writesAfterResumeSucceeded = after.filter((w) => w.created > 0).length;
        },
        'cut-leader': async (r) => {
          const l = await leader();
          Object.assign(r, { victim: l.identity, victimWasLeader: true, at: Date.now() });
          l.proxy.cut();
          const s = await waitStart(l.identity, r.at);
          Object.assign(r, { newLeader: s.identity, newStart: s.t });
          const stop = await waitStop(l.identity, r.at);
          r.m.failoverMs = s.t - r.at;
          r.m.oldStoppedAfterMs = stop.t - r.at;
          r.m.stopBeforeStartMs = s.t - stop.t;
          await sleep(1000);
          l.proxy.restore();
        },
        'kill9-follower': async (r) => {
          const l = await leader();
          const f = followerOf(l);
          Object.assign(r, { victim: f.identity, victimWasLeader: false, at: Date.now() });
          faults.push({ identity: f.identity, kind: 'kill', at: r.at });
          await set.signal(f, 'SIGKILL');
          await set.start(f.slot);
          r.m.leaderKept = !terms(events()).some((e) => e.identity === l.identity && e.event === 'stop' && e.t >= r.at);
        },
        'restart-in-burst': async (r) => {
          const l = await leader();
          const victim = r.n % 2 === 1 ? l : followerOf(l);
          const burstFrom = client.deliveries.length;
          r.burstAt = Date.now();
          reports.burst(3 * Math.max(1, sources.length));
          await Promise.all(Array.from({ length: 40 }, () => sendOne()));
          await sleep(200);
          Object.assign(r, { victim: victim.identity, victimWasLeader: victim === l, at: Date.now() });
          const exit = set.signal(victim, 'SIGTERM');
          if (victim === l) {
            const s = await waitStart(l.identity, r.at);
            Object.assign(r, { newLeader: s.identity, newStart: s.t });
            r.m.failoverMs = s.t - r.at;
          }
          r.m.exitCode = String(await exit);
          await set.start(victim.slot);
          const burst = client.deliveries.slice(burstFrom);
          await waitFor('the burst to be accepted', () => burst.every((d) => d.accepted !== undefined), 60_000, 100);
          r.m.burstMaxLatencyMs = Math.max(...burst.map((d) => d.acceptedAt! - d.firstAt));
        },
      };
      for (let n = 1; n <= ROUNDS; n++) {
        for (const kind of KINDS) {
          await healthy();
          await sleep(GAP_MS);
          const r: Round = { kind, n, victim: '', victimWasLeader: false, at: 0, end: 0, m: {} };
          await run[kind](r);
          r.end = Date.now();
          // The next fault waits until the informer sources have caught up with every report change so far.
          await waitFor('the informer sources to catch up', caughtUp, 120_000, 100);
          r.m.caughtUpMs = Date.now() - r.at;
          rounds.push(r);
          t.diagnostic(
            `round ${n} ${kind}: ${r.victim}${r.newLeader ? ` → ${r.newLeader}` : ''} ${JSON.stringify(r.m)}`,
          );
        }
      }
      await healthy();

      // 6. Stop the load and let the system settle.
      const loadEnd = Date.now();
      stopAll.abort();
      await webhookLoad;
      await reports.stop();
      await client.wait();
      await gaugeSampler;
      const expectedInformer = new Map<string, ExpectedInformer>();
      for (const [s, o] of informerOracles) {
        expectedInformer.set(s, await o.final());
      }
      const expectedWebhookKeys = new Set([...expectedWebhook.values()].flat());
      const listAll = async () => {
        const out: ObsItem[] = [];
        let cont: string | undefined;
        do {
          const page = await api.list<ObsItem>({ ...OBS, limit: 1000, ...(cont ? { continue: cont } : {}) });
          out.push(...page.items);
          cont = page.metadata.continue || undefined;
        } while (cont);
        return out;
      };
      const compare = (all: ObsItem[]) => {
        const byKey = new Map<string, ObsItem[]>();
        for (const o of all) {
          const k = key(o.spec.source, o.spec.fingerprint);
          byKey.set(k, [...(byKey.get(k) ?? []), o]);
        }
        const res = {
          missing: [] as string[],
          duplicated: [] as string[],
          unexpected: [] as string[],
          wrongPhase: [] as string[],
          wrongName: [] as string[],
          byKey,
        };
        const expected = new Map<string, 'Active' | 'Resolved'>();
        for (const k of expectedWebhookKeys) expected.set(k, 'Active');
        for (const e of expectedInformer.values()) for (const [k, p] of e.final) expected.set(k, p);
        const checked = new Set(['falco', 'audit', ...sources.map((s) => s.source)]);
        for (const [k, phase] of expected) {
          const got = byKey.get(k);
          if (!got) res.missing.push(k);
          else if ((got[0]!.status?.phase === 'Resolved' ? 'Resolved' : 'Active') !== phase)
            res.wrongPhase.push(`${k} want ${phase}`);
        }
        for (const [k, list] of byKey) {
          if (!checked.has(list[0]!.spec.source)) continue;
          if (list.length > 1)
            res.duplicated.push(`${k} ×${list.length}: ${list.map((o) => o.metadata.name).join(' ')}`);
          if (!expected.has(k)) res.unexpected.push(`${k} ${list[0]!.metadata.name}`);
        }
        for (const e of expectedInformer.values()) {
          for (const [k, name] of e.names) {
            const got = byKey.get(k);
            if (got && got[0]!.metadata.name !== name) res.wrongName.push(`${k}: ${got[0]!.metadata.name} ≠ ${name}`);
          }
        }
        return res;
      };
      let result = compare(await listAll());
      const settleStart = Date.now();
      while (
        Date.now() - settleStart < 60_000 &&
        result.missing.length + result.wrongPhase.length + result.duplicated.length + result.unexpected.length > 0
      ) {
        await sleep(2000);
        result = compare(await listAll());
      }
      const settledMs = Date.now() - loadEnd;

      // 7. Leader-work analysis.
      const log = events();
      const ivs = intervals(log, faults);
      const overlapping = overlaps(ivs);
      const outside = writesOutsideTerms(log, ivs);
      const resumeViolations = faults
        .filter((f) => f.kind === 'stop')
        .flatMap((f) => writesAfterResume(log, f).filter((w) => w.created > 0));
      // Informer Observations: their writer (stamped by the recorder's onObservation) was leader when it made them.
      const informerSources_ = new Set(sources.map((s) => s.source));
      const wrongWriter: string[] = [];
      for (const list of result.byKey.values()) {
        for (const o of list) {
          if (!informerSources_.has(o.spec.source) && o.spec.source !== 'ha-heartbeat') continue;
          const w = o.metadata.annotations?.['ha.zen-test/writer'];
          const at = Number(o.metadata.annotations?.['ha.zen-test/at']);
          if (!w || !ivs.some((i) => i.identity === w && at >= i.from && at <= i.to))
            wrongWriter.push(`${o.metadata.namespace}/${o.metadata.name} by ${w} at ${at}`);
        }
      }
      // Heartbeats: every recorded successful leader write exists; every heartbeat Observation was recorded
      // (or made by a process killed before it could record it).
      const hbObs = [...result.byKey.values()].flat().filter((o) => o.spec.source === 'ha-heartbeat');
      const recorded = new Set(
        writes(log)
          .filter((w) => w.created > 0)
          .map((w) => `${w.identity}#${w.seq}`),
      );
      const killed = new Set(faults.filter((f) => f.kind === 'kill').map((f) => f.identity));
      const hbKeys = new Map<string, number>();
      for (const o of hbObs) {
        const d = o.spec.details as { identity: string; seq: number };
        const k = `${d.identity}#${d.seq}#${(o.spec.details as { term?: number }).term}`;
        hbKeys.set(k, (hbKeys.get(k) ?? 0) + 1);
      }
      const hbUnrecorded = hbObs.filter((o) => {
        const d = o.spec.details as { identity: string; seq: number };
        return !recorded.has(`${d.identity}#${d.seq}`) && !killed.has(d.identity);
      });
      const hbDup = [...hbKeys.values()].filter((n) => n > 1).length;
      // Gauge samples with two 1s: allowed only in the instant a paused leader resumes, before it notices.
      const unexplainedDouble = doubleLeader.filter(
        (d) =>
          !faults.some(
            (f) =>
              f.kind === 'stop' && f.resumedAt !== undefined && d.ids.includes(f.identity) && d.t - f.resumedAt < 2000,
          ),
      );

      // 8. Measurements.
      const byKind = (k: Kind) => rounds.filter((r) => r.kind === k);
      const num = (rs: Round[], m: string) => rs.map((r) => r.m[m]).filter((v): v is number => typeof v === 'number');
      const firstWrite = (r: Round) =>
        writes(log).find((w) => w.identity === r.newLeader && w.created > 0 && w.t0 >= (r.newStart ?? 0));
      for (const r of rounds) {
        const w = r.newLeader ? firstWrite(r) : undefined;
        if (w) r.m.firstLeaderWriteMs = w.t1 - r.at;
      }
      const attempts = client.deliveries.flatMap((d) => d.attempts);
      const inWindow = (r: Round) => attempts.filter((a) => a.t >= r.at && a.t <= r.end);
      const errRate = (rs: Round[]) => {
        const a = rs.flatMap(inWindow);
        const failed = a.filter((x) => x.reason !== 'ok');
        return { attempts: a.length, failed: failed.length, rate: a.length ? failed.length / a.length : 0 };
      };
      const deliveredLate = (rs: Round[]) =>
        client.deliveries
          .filter((d) => rs.some((r) => d.firstAt >= r.at - 3000 && d.firstAt <= r.end))
          .map((d) => (d.acceptedAt ?? Number.NaN) - d.firstAt);
      const catchUp = { failover: [] as number[], steady: [] as number[] };
      const slowSteady: string[] = [];
      const leaderRounds = rounds.filter((r) => r.newStart !== undefined);
      for (const e of expectedInformer.values()) {
        for (const a of e.appeared) {
          if (a.keys.length === 0 || a.step.op === 'delete') continue;
          const seen = a.keys.map((k) => firstSeen.get(k));
          if (seen.some((s) => s === undefined)) continue;
          const lat = Math.max(...(seen as number[])) - a.step.t0;
          // During a failover: from shortly before the fault (a change the dying leader may not have handled;
          // a burst's start) until the new leader's term began.
          const during = leaderRounds.some((r) => a.step.t0 >= (r.burstAt ?? r.at - 1000) && a.step.t0 <= r.newStart!);
          (during ? catchUp.failover : catchUp.steady).push(lat);
          if (!during && lat > 3000) {
            const near = rounds
              .filter((r) => Math.abs(r.at - a.step.t0) < 15_000)
              .map((r) => `${r.kind}@${r.at - a.step.t0}/${(r.newStart ?? r.end) - a.step.t0}`);
            slowSteady.push(
              `${a.history.source.source} ${a.step.op} ${lat} ms; rounds (at/newStart rel.): ${near.join(' ')}`,
            );
          }
        }
      }
      // Resolution: from a report's deletion to its findings' Observations all Resolved (grace period + tick).
      const resolveLatency: number[] = [];
      for (const e of expectedInformer.values()) {
        for (const a of e.appeared) {
          if (a.step.op !== 'delete') continue;
          const keys = e.appeared.filter((x) => x.history === a.history).flatMap((x) => x.keys);
          const times = keys
            .map((k) => resolvedSeen.get(k))
            .filter((v): v is number => v !== undefined && v >= a.step.t0);
          if (times.length) resolveLatency.push(Math.max(...times) - a.step.t0);
        }
      }
      const finalScrapes = await Promise.all(set.live.map(async (r) => ({ r, text: await scrape(r) })));
      const relistDiff = finalScrapes.reduce(
        (n, { text }) => n + counter(text, 'zen_watcher_informer_relist_differences_total'),
        0,
      );
      // Operability: every live replica names the same leader (zen_watcher_leader_info), the one whose
      // zen_watcher_leader gauge is 1; takeovers are in zen_watcher_leader_failover_seconds.
      const leaderInfo = finalScrapes.map(({ r, text }) => ({
        replica: r.identity,
        leads: /^zen_watcher_leader\{[^}]*\} 1$/m.test(text ?? ''),
        holder: /^zen_watcher_leader_info\{[^}]*holder="([^"]+)"[^}]*\} 1$/m.exec(text ?? '')?.[1],
      }));
      const failoverMetric = finalScrapes.map(({ r, text }) => ({
        replica: r.identity,
        count: counter(text, 'zen_watcher_leader_failover_seconds_count'),
        sum: Math.round(counter(text, 'zen_watcher_leader_failover_seconds_sum') * 1000) / 1000,
      }));
      const report = {
        timings: T,
        machine: { cpus: cpus().length, loadavgAtEnd: loadavg().map((x) => Math.round(x * 10) / 10), loadavgAtStart },
        durationMs: Date.now() - suiteStart,
        crashBoundMs: CRASH_BOUND_MS,
        crashWithinLeasePlusRetry: Object.fromEntries(
          (['kill9-leader', 'sigstop-leader', 'cut-leader'] as const).map((k) => [
            k,
            `${num(byKind(k), 'failoverMs').filter((v) => v <= CRASH_BOUND_MS).length}/${byKind(k).length}`,
          ]),
        ),
        rounds: ROUNDS,
        falcoWindow: FALCO_WINDOW,
        informerSources: sources.map((s) => s.source),
        failover: Object.fromEntries(
          KINDS.map((k) => [
            k,
            {
              newLeaderMs: summary(num(byKind(k), 'failoverMs')),
              firstLeaderWriteMs: summary(num(byKind(k), 'firstLeaderWriteMs')),
              webhookErrors: errRate(byKind(k)),
              webhookDeliveryMs: summary(deliveredLate(byKind(k)).filter(Number.isFinite)),
            },
          ]),
        ),
        sigstop: {
          stopAfterResumeMs: summary(num(byKind('sigstop-leader'), 'stopAfterResumeMs')),
          gaugeZeroAfterResumeMs: summary(num(byKind('sigstop-leader'), 'gaugeZeroAfterResumeMs')),
          gaugeFirstAfterResume: byKind('sigstop-leader').map((r) => r.m.gaugeFirstAfterResume),
          writesAfterResume: num(byKind('sigstop-leader'), 'writesAfterResume').reduce((a, b) => a + b, 0),
          writesAfterResumeSucceeded: resumeViolations.length,
        },
        cut: {
          oldStoppedAfterMs: summary(num(byKind('cut-leader'), 'oldStoppedAfterMs')),
          stopBeforeStartMs: summary(num(byKind('cut-leader'), 'stopBeforeStartMs')),
        },
        sigterm: { stopToStartMs: summary(num(byKind('sigterm-leader'), 'stopToStartMs')) },
        informerCatchUpMs: { duringFailover: summary(catchUp.failover), steady: summary(catchUp.steady) },
        caughtUpAfterFaultMs: Object.fromEntries(KINDS.map((k) => [k, summary(num(byKind(k), 'caughtUpMs'))])),
        resolveAfterDeleteMs: summary(resolveLatency),
        webhooks: {
          events: client.deliveries.length,
          attempts: attempts.length,
          failedAttempts: attempts.filter((a) => a.reason !== 'ok').length,
          retriedEvents: client.deliveries.filter((d) => d.attempts.length > 1).length,
          notAccepted: client.deliveries.filter((d) => d.accepted === undefined).length,
          accepted202: client.deliveries.filter((d) => d.accepted === 202).length,
          acceptedWithDrops: client.deliveries.filter((d) => (d.dropped ?? 0) > 0).length,
          failureReasons: Object.fromEntries(
            [...new Set(attempts.filter((a) => a.reason !== 'ok').map((a) => a.reason))].map((why) => [
              why,
              attempts.filter((a) => a.reason === why).length,
            ]),
          ),
        },
        observations: {
          expected: expectedWebhookKeys.size + [...expectedInformer.values()].reduce((n, e) => n + e.final.size, 0),
          webhookExpected: expectedWebhookKeys.size,
          informerExpected: Object.fromEntries([...expectedInformer].map(([s, e]) => [s, e.final.size])),
          resolvedExpected: [...expectedInformer.values()].reduce(
            (n, e) => n + [...e.final.values()].filter((p) => p === 'Resolved').length,
            0,
          ),
          reports: reports.history.length,
          reportSteps: reports.history.reduce((n, h) => n + h.steps.length, 0),
          heartbeats: hbObs.length,
          missing: result.missing.length,
          duplicated: result.duplicated.length,
          unexpected: result.unexpected.length,
          wrongPhase: result.wrongPhase.length,
          settledAfterLoadMs: settledMs,
        },
        leaderWork: {
          terms: ivs.length,
          overlaps: overlapping.length,
          writesOutsideTerms: outside.length,
          informerObservationsByNonLeader: wrongWriter.length,
          heartbeatsUnrecorded: hbUnrecorded.length,
          heartbeatDuplicates: hbDup,
          gaugeDoubleSamples: doubleLeader.length,
          gaugeDoubleUnexplained: unexplainedDouble.length,
        },
        relistDifferencesOnLiveReplicas: relistDiff,
        metrics: { leaderInfo, failoverSeconds: failoverMetric },
        replicaStartupMs: summary(set.all.map((r) => r.startupMs)),
        slowSteady: slowSteady.slice(0, 20),
        loadErrors: reports.errors,
      };
      for (const line of JSON.stringify(report, null, 1).split('\n')) t.diagnostic(line);
      if (process.env.ZEN_HA_REPORT)
        writeFileSync(
          process.env.ZEN_HA_REPORT,
          `${JSON.stringify({ report, rounds, raw: { catchUp, resolveLatency } }, null, 2)}\n`,
        );

      // 9. Assertions.
      const show = (l: string[]) => l.slice(0, 10).join('\n  ');
      assert.deepEqual(reports.errors, [], 'the report load itself had no errors');
      assert.equal(report.webhooks.notAccepted, 0, 'every webhook was eventually accepted (2xx)');
      const bad4xx = attempts.filter((a) => a.status >= 400 && a.status < 500 && a.status !== 429);
      assert.equal(bad4xx.length, 0, `no 4xx: ${JSON.stringify(bad4xx.slice(0, 3))}`);
      if (result.missing.length) {
        const byKey = new Map([...expectedWebhook].flatMap(([id, ks]) => ks.map((k) => [k, id] as const)));
        const termsLog = terms(log);
        const leaderAt = (ts: number) =>
          ivs.find((i) => ts >= i.from && ts <= i.to)?.identity ?? `none (${termsLog.length} term events)`;
        for (const k of result.missing.slice(0, 20)) {
          const d = client.deliveries.find((x) => x.id === byKey.get(k));
          if (d) t.diagnostic(`missing ${k} from ${d.id}: ${JSON.stringify(d)}`);
          for (const e of expectedInformer.values()) {
            const a = e.appeared.find((x) => x.keys.includes(k));
            if (!a) continue;
            const h = a.history;
            const steps = h.steps.map((st) => `${st.op}@${st.t0} [${st.findings}] leader=${leaderAt(st.t0)}`);
            const near = rounds
              .filter((r) => r.at > h.steps[0]!.t0 - 20_000 && r.at < (h.steps.at(-1)?.t1 ?? 0) + 20_000)
              .map((r) => `${r.kind}#${r.n} ${r.victim}@${r.at}→${r.newLeader ?? ''}@${r.newStart ?? ''} end ${r.end}`);
            t.diagnostic(
              `missing ${k}: ${h.source.source} ${h.namespace}/${h.name} appeared at ${a.step.op}; seen by watch: ${firstSeen.has(k)}; steps: ${steps.join(' | ')}; rounds: ${near.join(' | ')}`,
            );
          }
        }
      }
      assert.equal(result.missing.length, 0, `missing Observations:\n  ${show(result.missing)}`);
      assert.equal(result.duplicated.length, 0, `duplicated Observations:\n  ${show(result.duplicated)}`);
      assert.equal(result.unexpected.length, 0, `unexpected Observations:\n  ${show(result.unexpected)}`);
      assert.equal(result.wrongPhase.length, 0, `wrong phase:\n  ${show(result.wrongPhase)}`);
      assert.equal(result.wrongName.length, 0, `informer names differ from the oracle:\n  ${show(result.wrongName)}`);
      assert.equal(overlapping.length, 0, `leader work overlapped: ${JSON.stringify(overlapping.slice(0, 3))}`);
      assert.equal(
        outside.length,
        0,
        `leader-only writes outside the writer's term: ${JSON.stringify(outside.slice(0, 3))}`,
      );
      assert.equal(
        resumeViolations.length,
        0,
        `a resumed leader wrote: ${JSON.stringify(resumeViolations.slice(0, 3))}`,
      );
      assert.equal(
        wrongWriter.length,
        0,
        `informer Observations made outside the writer's term:\n  ${show(wrongWriter)}`,
      );
      assert.equal(hbUnrecorded.length, 0, 'every heartbeat Observation is a recorded leader write');
      assert.equal(hbDup, 0, 'no heartbeat twice');
      assert.equal(
        unexplainedDouble.length,
        0,
        `two leader gauges at 1: ${JSON.stringify(unexplainedDouble.slice(0, 3))}`,
      );
      for (const r of rounds) {
        if (r.kind === 'sigterm-leader' || (r.kind === 'restart-in-burst' && r.victimWasLeader)) {
          assert.ok(
            (r.m.failoverMs as number) < 2000,
            `graceful handover under 2 s (${r.kind} #${r.n}: ${r.m.failoverMs} ms)`,
          );
          assert.equal(r.m.exitCode, '0', `graceful exit (${r.kind} #${r.n})`);
        }
        if (r.kind === 'kill9-leader' || r.kind === 'sigstop-leader' || r.kind === 'cut-leader') {
          assert.ok(
            (r.m.failoverMs as number) <= CRASH_BOUND_MS,
            `crash failover ${r.m.failoverMs} ms > ${CRASH_BOUND_MS} ms (#${r.n})`,
          );
        }
        if (r.kind === 'cut-leader')
          assert.ok((r.m.stopBeforeStartMs as number) > 0, `cut: old leader stopped first (#${r.n})`);
        if (r.kind === 'kill9-follower')
          assert.equal(r.m.leaderKept, true, `a follower's death does not move the leader (#${r.n})`);
      }
      const leaders = leaderInfo.filter((x) => x.leads).map((x) => x.replica);
      assert.equal(leaders.length, 1, `one live leader by zen_watcher_leader: ${JSON.stringify(leaderInfo)}`);
      // The leader's plugin informers report that they caught up (zen_watcher_informer_synced).
      const leaderText = finalScrapes.find(({ r }) => r.identity === leaders[0])?.text ?? '';
      const synced = [...leaderText.matchAll(/^zen_watcher_informer_synced\{gvr="([^"]+)"\} (\d+)$/gm)];
      assert.ok(synced.length > 0, 'the leader exports zen_watcher_informer_synced');
      for (const m of synced) assert.equal(m[2], '1', `informer ${m[1]} synced on the leader`);
      for (const x of leaderInfo)
        assert.equal(x.holder, leaders[0], `zen_watcher_leader_info on ${x.replica} names the leader`);
      assert.ok(
        failoverMetric.some((x) => x.count > 0),
        `a live replica recorded a takeover in zen_watcher_leader_failover_seconds: ${JSON.stringify(failoverMetric)}`,
      );
      passed = true;
    } finally {
      stopAll.abort();
      for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
      await set.close();
      await api.close();
      if (passed && !process.env.ZEN_HA_KEEP) cleanup(work);
      else t.diagnostic(`logs kept in ${work}`);
    }
  });
});
