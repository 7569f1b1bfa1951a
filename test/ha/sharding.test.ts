/**
 * Namespace sharding (the seed's option 3, DESIGN §7): two zen-watcher instances side by side on one control plane,
 * A with WATCH_NAMESPACE=shard-a and B with WATCH_NAMESPACE=shard-b, two replicas each, no explicit election id.
 * Shows that each instance handles only its own namespaces: its own Lease (named from the namespace set), the
 * Ingesters of its namespaces only (webhook paths and status), Observations from informer sources only for reports
 * in its namespaces and only written by its own leader, GC only in its namespaces, and a leader crash in A that
 * leaves B alone. A third namespace, shard-c, is watched by nobody: nothing there is served, written or collected.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { realFixturesDir } from '../support/fixtures.ts';
import { cleanup, tempDir } from '../support/host.ts';
import { intervals, overlaps, readLog, terms } from './support/leader-log.ts';
import {
  applyCrds,
  type InformerSource,
  type IngesterDef,
  informerOracle,
  informerSources,
  ingesterObject,
  key,
  type ReportHistory,
  ReportLoad,
  WebhookPayloads,
} from './support/load.ts';
import { alive, counter, leaderGauge, type Replica, ReplicaSet, scrape } from './support/replicas.ts';
import { waitFor } from './support/stats.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-system';
const T = { lease: 4, renew: 3, retry: 1 };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

interface Shard {
  name: 'a' | 'b';
  ns: string;
  set: ReplicaSet;
  log: string;
  replicas: Replica[];
  lease: string;
}

interface ObsItem {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { source: string; fingerprint: string };
  status?: { phase?: string };
}

/** The Lease name core/config/env.ts derives for a namespace set. */
const leaseName = (namespaces: string[]) =>
  `zen-watcher-leader-election-${createHash('sha256')
    .update([...namespaces].sort().join(','))
    .digest('hex')
    .slice(0, 10)}`;

describe('namespace sharding: two instances, disjoint namespaces, one control plane', { skip }, () => {
  let api: KubeApi;
  let work: string;
  let sources: InformerSource[] = [];
  const shards: Shard[] = [];
  const histories: ReportHistory[] = [];
  let failed = false;
  const fixtures = realFixturesDir();

  const defsFor = (ns: string, suffix: string): IngesterDef[] => [
    {
      name: 'falco',
      namespace: ns,
      spec: {
        source: 'falco',
        ingester: 'webhook',
        webhook: { path: `/ingest/falco-${suffix}` },
        deduplication: { window: '0s' },
      },
    },
    { name: 'ha-heartbeat', namespace: ns, spec: { source: 'ha-heartbeat', ingester: 'informer' } },
    ...sources.map((s) => ({
      name: s.source,
      namespace: ns,
      spec: { source: s.source, plugin: s.handler, ingester: 'informer', ...s.spec },
    })),
  ];

  before(async () => {
    api = adminKubeApi(cp!);
    work = tempDir('zw-shard-');
    await ensureNamespaces(api, NS, 'shard-a', 'shard-b', 'shard-c');
    sources = informerSources(fixtures ?? '/nonexistent', ['trivy', 'kyverno', 'ha-cm']);
    await applyCrds(
      api,
      sources.flatMap((s) => s.crds),
    );
    for (const [ns, suffix] of [
      ['shard-a', 'a'],
      ['shard-b', 'b'],
      ['shard-c', 'c'],
    ] as const) {
      for (const d of defsFor(ns, suffix)) await api.create({ ...ING, namespace: ns, body: ingesterObject(d) });
    }
    for (const name of ['a', 'b'] as const) {
      const ns = `shard-${name}`;
      const log = join(work, `leader-${name}.jsonl`);
      writeFileSync(log, '');
      const set = new ReplicaSet(cp!, work, {
        POD_NAMESPACE: NS,
        WATCH_NAMESPACE: ns,
        ZEN_LEASE_DURATION_SECONDS: String(T.lease),
        ZEN_RENEW_DEADLINE_SECONDS: String(T.renew),
        ZEN_RETRY_PERIOD_SECONDS: String(T.retry),
        ZEN_RESOLVE_AFTER_SECONDS: '2',
        ZEN_GC_INTERVAL_SECONDS: '1',
        ZEN_TEST_LEADER_LOG: log,
        ZEN_TEST_HEARTBEAT_MS: '1000',
        ZEN_DATA_DIR: join(work, `data-${name}`),
      });
      shards.push({ name, ns, set, log, replicas: [], lease: leaseName([ns]) });
    }
    for (const s of shards)
      s.replicas = await Promise.all([`${s.name}1`, `${s.name}2`].map((slot) => s.set.start(slot)));
    for (const s of shards) {
      await waitFor(`a leader in instance ${s.name}`, async () => {
        const g = await Promise.all(s.replicas.map((r) => leaderGauge(r)));
        return g.filter((x) => x === 1).length === 1;
      });
    }
  });

  after(async () => {
    for (const s of shards) await s.set.close();
    await api?.close();
    if (!failed) cleanup(work);
    else console.log(`sharding logs kept in ${work}`);
  });

  const guard = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  test('each instance has its own Lease, named from its namespace set, held by one of its replicas', () =>
    guard(async () => {
      const leases = await api.list<{ metadata: { name: string }; spec: { holderIdentity?: string } }>({
        ...LEASES,
        namespace: NS,
      });
      for (const s of shards) {
        const l = leases.items.find((x) => x.metadata.name === s.lease);
        assert.ok(l, `Lease ${s.lease} for ${s.ns} exists (have: ${leases.items.map((x) => x.metadata.name)})`);
        assert.ok(
          s.replicas.some((r) => r.identity === l.spec.holderIdentity),
          `${s.lease} is held by instance ${s.name} (${l.spec.holderIdentity})`,
        );
      }
      assert.notEqual(shards[0]!.lease, shards[1]!.lease);
      assert.ok(!leases.items.some((x) => x.metadata.name === 'zen-watcher-leader-election'), 'no unsharded Lease');
    }));

  test('Ingesters: each instance serves and reports only those in its namespaces', () =>
    guard(async () => {
      const body = JSON.stringify({ probe: true }); // not a Falco alert: 4xx from a served path, 404 otherwise
      for (const s of shards) {
        for (const r of s.replicas) {
          for (const suffix of ['a', 'b', 'c']) {
            const served = suffix === s.name;
            await waitFor(`${r.identity} ${served ? 'serves' : 'does not serve'} /ingest/falco-${suffix}`, async () => {
              const res = await fetch(`${r.url}/ingest/falco-${suffix}`, {
                method: 'POST',
                body,
                headers: { 'content-type': 'application/json' },
              });
              return served ? res.status !== 404 : res.status === 404;
            });
          }
        }
      }
      const status = async (ns: string) => {
        const o = (await api.get({ ...ING, namespace: ns, name: 'falco' })) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return o.status?.conditions ?? [];
      };
      for (const ns of ['shard-a', 'shard-b']) {
        await waitFor(`Ready=True on ${ns}/falco`, async () =>
          (await status(ns)).some((c) => c.type === 'Ready' && c.status === 'True'),
        );
      }
      assert.deepEqual(
        await status('shard-c'),
        [],
        'nobody writes the status of an Ingester in an unwatched namespace',
      );
    }));

  test('informer sources: reports in a namespace become Observations only through its own instance', () =>
    guard(async () => {
      const load = new ReportLoad({ api, sources, namespaces: ['shard-a'], stateMs: [1500, 2500], deleteRatio: 0.5 });
      for (const ns of ['shard-a', 'shard-b', 'shard-c']) for (const s of sources) load.spawn(s, ns);
      await sleep(100);
      await waitFor('the report lifecycles', async () => load.history.every((h) => h.steps.length >= 2), 30_000, 200);
      await sleep(3000);
      await load.stop();
      histories.push(...load.history);
      const identities = (s: Shard) => new Set(s.set.all.map((r) => r.identity));
      for (const shard of [...shards, undefined]) {
        const ns = shard?.ns ?? 'shard-c';
        const expected = new Map<string, 'Active' | 'Resolved'>();
        if (shard) {
          for (const s of sources) {
            const def = defsFor(ns, shard.name).find((d) => d.name === s.source)!;
            const e = await informerOracle(
              s,
              def,
              load.history.filter((h) => h.namespace === ns),
            );
            for (const [k, p] of e.final) expected.set(k, p);
          }
        }
        const srcs = new Set(sources.map((s) => s.source));
        const actual = async () =>
          (await api.list<ObsItem>({ ...OBS, namespace: ns })).items.filter((o) => srcs.has(o.spec.source));
        const same = async () => {
          const got = await actual();
          const keys = got.map((o) => key(o.spec.source, o.spec.fingerprint));
          return (
            keys.length === expected.size &&
            got.every(
              (o) =>
                expected.get(key(o.spec.source, o.spec.fingerprint)) ===
                (o.status?.phase === 'Resolved' ? 'Resolved' : 'Active'),
            )
          );
        };
        if (shard) await waitFor(`exact Observations in ${ns}`, same, 60_000, 500);
        else {
          await sleep(3000);
          assert.deepEqual(await actual(), [], 'no Observation from reports in an unwatched namespace');
        }
        for (const o of await actual()) {
          const w = o.metadata.annotations?.['ha.zen-test/writer'] ?? '';
          assert.ok(
            shard && identities(shard).has(w),
            `${ns}/${o.metadata.name} written by ${w}, not instance ${shard?.name}`,
          );
        }
      }
      // Heartbeats (a leader-only source) of each instance exist only in its namespace, written by its leaders.
      for (const s of shards) {
        const hb = (await api.list<ObsItem>({ ...OBS, namespace: s.ns })).items.filter(
          (o) => o.spec.source === 'ha-heartbeat',
        );
        assert.ok(hb.length > 0, `heartbeats in ${s.ns}`);
        for (const o of hb) assert.ok(identities(s).has(o.metadata.annotations?.['ha.zen-test/writer'] ?? ''));
      }
      const hbC = (await api.list<ObsItem>({ ...OBS, namespace: 'shard-c' })).items.filter(
        (o) => o.spec.source === 'ha-heartbeat',
      );
      assert.equal(hbC.length, 0, 'no heartbeat for the Ingester in the unwatched namespace');
    }));

  test('GC deletes expired Observations only in its own namespaces', () =>
    guard(async () => {
      const mk = (ns: string, name: string) => ({
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Observation',
        metadata: { name, namespace: ns },
        spec: {
          source: 'gc',
          category: 'security',
          severity: 'low',
          eventType: 'test',
          title: name,
          fingerprint: 'a'.repeat(64),
          detectedAt: new Date().toISOString(),
          ttlSecondsAfterCreation: 1,
        },
      });
      const before = await Promise.all(
        shards.map(async (s) =>
          (await Promise.all(s.set.live.map((r) => scrape(r)))).reduce(
            (n, text) => n + counter(text, 'zen_watcher_observations_deleted_total'),
            0,
          ),
        ),
      );
      const want = { 'shard-a': 2, 'shard-b': 3, 'shard-c': 2 } as const;
      for (const [ns, n] of Object.entries(want)) {
        for (let i = 0; i < n; i++) await api.create({ ...OBS, namespace: ns, body: mk(ns, `gc-${ns}-${i}`) });
      }
      const gcLeft = async (ns: string) =>
        (await api.list<ObsItem>({ ...OBS, namespace: ns })).items.filter((o) => o.spec.source === 'gc').length;
      await waitFor('expired Observations collected in shard-a and shard-b', async () =>
        (await gcLeft('shard-a')) === 0 && (await gcLeft('shard-b')) === 0 ? true : undefined,
      );
      await sleep(3000);
      assert.equal(await gcLeft('shard-c'), 2, 'nobody collects in an unwatched namespace');
      for (const [i, s] of shards.entries()) {
        const now = (await Promise.all(s.set.live.map((r) => scrape(r)))).reduce(
          (n, text) => n + counter(text, 'zen_watcher_observations_deleted_total'),
          0,
        );
        assert.equal(now - before[i]!, want[s.ns as 'shard-a' | 'shard-b'], `instance ${s.name} deleted only its own`);
      }
      for (let i = 0; i < 2; i++) await api.delete({ ...OBS, namespace: 'shard-c', name: `gc-shard-c-${i}` });
    }));

  test('a leader crash in instance A fails over inside A and leaves B alone', () =>
    guard(async () => {
      const [a, b] = shards as [Shard, Shard];
      const leaderOf = async (s: Shard) => {
        const live = s.set.live;
        const g = await Promise.all(live.map((r) => leaderGauge(r)));
        return live[g.indexOf(1)];
      };
      const la = (await leaderOf(a))!;
      const lb = (await leaderOf(b))!;
      const at = Date.now();
      await a.set.signal(la, 'SIGKILL');
      const start = await waitFor(
        'a new leader term in A',
        () => terms(readLog(a.log)).find((e) => e.event === 'start' && e.t >= at && e.identity !== la.identity),
        20_000,
        20,
      );
      const failoverMs = start.t - at;
      await sleep(2000);
      assert.ok(
        !terms(readLog(b.log)).some((e) => e.event === 'stop' && e.t >= at),
        "B's leader term did not end while A failed over",
      );
      assert.equal(await leaderGauge(lb), 1, "B's leader still leads");
      const lease = (await api.get({ ...LEASES, namespace: NS, name: b.lease })) as {
        spec: { holderIdentity: string };
      };
      assert.equal(lease.spec.holderIdentity, lb.identity);
      for (const s of shards) {
        const ivs = intervals(readLog(s.log), s === a ? [{ identity: la.identity, kind: 'kill', at }] : []);
        assert.deepEqual(overlaps(ivs), [], `instance ${s.name}: no overlapping leader work`);
      }
      console.log(`sharding: instance A crash failover ${failoverMs} ms; instance B undisturbed`);
      assert.ok(failoverMs <= (T.lease + T.retry) * 1000, `A failed over in ${failoverMs} ms (lease + retry)`);
    }));

  test('a webhook Observation about a resource in another shard is written to the Ingester namespace', async () => {
    const a = shards[0]!;
    const e = new WebhookPayloads(fixtures ?? '/nonexistent', 'shard-b').next('falco');
    const res = await fetch(`${a.replicas.find(alive)!.url}/ingest/falco-a`, {
      method: 'POST',
      body: e.body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
    const { names } = (await res.json()) as { names: string[] };
    const inB = (await api.list<ObsItem>({ ...OBS, namespace: 'shard-b' })).items.filter((o) =>
      names.includes(o.metadata.name),
    );
    // Written into shard-a (the Ingester's namespace), never outside WATCH_NAMESPACE.
    assert.deepEqual(
      inB.map((o) => o.metadata.name),
      [],
      `instance A wrote ${inB.length} Observation(s) into shard-b, outside its WATCH_NAMESPACE`,
    );
    assert.ok(names.length > 0, 'the alert became an Observation');
    const inA = (await api.list<ObsItem>({ ...OBS, namespace: 'shard-a' })).items.filter((o) =>
      names.includes(o.metadata.name),
    );
    assert.equal(inA.length, names.length, 'every Observation of the alert is in shard-a');
  });
});
