/**
 * zen-watcher in kubernetes mode, as real processes on the real control plane: live Ingester changes and their
 * status, cross-replica dedup of webhooks, and leader election under SIGTERM, kill -9 and a cut connection
 * (leader-work intervals recorded by a test plugin), and leader-only GC.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import {
  adminKubeApi,
  controlPlaneOrSkip,
  ensureNamespaces,
  kubeconfigVia,
  serverPort,
} from '../support/control-plane.ts';
import { cleanup, type HostProcess, post, REPO, startHostProcess, tempDir } from '../support/host.ts';
import { makeObservation, observationObject } from '../support/observations.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-system';
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const TIMINGS = { lease: 4, renew: 3, retry: 1 };

let api: KubeApi;
const dirs: string[] = [];
const procs: HostProcess[] = [];
const names = new Map<HostProcess, string>();

function replica(name: string, extra: Record<string, string> = {}, kubeconfig = cp!.kubeconfigPath) {
  return startHostProcess(
    {
      ZEN_MODE: 'kubernetes',
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: NS,
      POD_NAME: name,
      ZEN_LEASE_DURATION_SECONDS: String(TIMINGS.lease),
      ZEN_RENEW_DEADLINE_SECONDS: String(TIMINGS.renew),
      ZEN_RETRY_PERIOD_SECONDS: String(TIMINGS.retry),
      ZEN_PLUGIN_DIRS: join(REPO, 'test/fixtures/plugins/leader-recorder'),
      ZEN_DATA_DIR: tempDir('zw-unused-'),
      ...extra,
    },
    60_000,
  ).then((p) => {
    procs.push(p);
    names.set(p, name);
    return p;
  });
}

async function isLeader(p: HostProcess): Promise<boolean> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return false;
  try {
    const text = await (await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return /^zen_watcher_leader\{[^}]*\} 1$/m.test(text);
  } catch {
    return false;
  }
}

function ingester(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'zen.kube-zen.io/v1alpha1', kind: 'Ingester', metadata: { name, namespace: NS }, spec };
}

interface LeaderEvent {
  event: 'start' | 'stop';
  identity: string;
  t: number;
}
const readLeaderLog = (file: string): LeaderEvent[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LeaderEvent);

/** Leader-work intervals per identity from the recorder's log; asserts no two overlap. */
function assertNoOverlap(events: LeaderEvent[]) {
  const open = new Map<string, number>();
  const intervals: { id: string; from: number; to: number }[] = [];
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (e.event === 'start') open.set(e.identity, e.t);
    else {
      intervals.push({ id: e.identity, from: open.get(e.identity) ?? 0, to: e.t });
      open.delete(e.identity);
    }
  }
  for (const [id, from] of open) intervals.push({ id, from, to: Number.POSITIVE_INFINITY });
  intervals.sort((a, b) => a.from - b.from);
  for (let i = 1; i < intervals.length; i++) {
    assert.ok(
      intervals[i]!.from >= intervals[i - 1]!.to,
      `leader work overlapped: ${JSON.stringify(intervals.slice(i - 1, i + 1))}`,
    );
  }
  return intervals;
}

describe('kubernetes mode', { skip }, () => {
  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS);
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await api?.close();
    cleanup(...dirs);
  });

  test('Ingester edits apply live on every replica, status tells the outcome, and one payload to two replicas is one Observation', async () => {
    const a = await replica('live-a', { ZEN_LEADER_ELECTION_ID: 'live-test' });
    const b = await replica('live-b', { ZEN_LEADER_ELECTION_ID: 'live-test' });
    await api.create({
      ...ING,
      namespace: NS,
      body: ingester('generic', {
        source: 'generic',
        plugin: 'webhook',
        ingester: 'webhook',
        webhook: { path: '/ingest/generic' },
      }),
    });
    for (const p of [a, b]) {
      await waitFor(
        `${p.url} serves /ingest/generic`,
        async () => (await post(`${p.url}/ingest/generic`, '{"severity":"low","title":"probe"}')).status === 200,
      );
    }
    const status = await waitFor('Ready=True on the Ingester', async () => {
      const o = (await api.get({ ...ING, namespace: NS, name: 'generic' })) as {
        status?: { conditions?: { type: string; status: string }[]; observedGeneration?: number };
      };
      return o.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') ? o.status : undefined;
    });
    assert.equal(status.observedGeneration, 1);

    // The same payload to both replicas: one Observation, cluster-wide dedup through the deterministic name.
    const body =
      '{"severity":"critical","title":"same on both","message":"m","resource":{"kind":"Pod","name":"p1","namespace":"zen-system"}}';
    const [ra, rb] = await Promise.all([post(`${a.url}/ingest/generic`, body), post(`${b.url}/ingest/generic`, body)]);
    assert.equal((ra.json?.created as number) + (rb.json?.created as number), 1, JSON.stringify([ra.json, rb.json]));
    const list = await api.list<{ spec: { title: string } }>({
      ...OBS,
      namespace: NS,
      labelSelector: 'severity=critical',
    });
    assert.deepEqual(
      list.items.map((o) => o.spec.title),
      ['same on both'],
    );

    // Edit: a new path, no restart.
    await api.patch({
      ...ING,
      namespace: NS,
      name: 'generic',
      body: { spec: { webhook: { path: '/ingest/generic-v2' } } },
    });
    for (const p of [a, b]) {
      await waitFor(
        `${p.url} moved to /ingest/generic-v2`,
        async () => (await post(`${p.url}/ingest/generic-v2`, '{"severity":"low","title":"probe"}')).status === 200,
      );
      assert.equal((await post(`${p.url}/ingest/generic`, '{"severity":"low","title":"probe"}')).status, 404);
    }
    // An invalid edit the API server accepts (plugin config is free-form there): InvalidConfig with the field path.
    await api.patch({ ...ING, namespace: NS, name: 'generic', body: { spec: { config: { maxItems: 'many' } } } });
    const bad = await waitFor('InvalidConfig in the status', async () => {
      const o = (await api.get({ ...ING, namespace: NS, name: 'generic' })) as {
        status?: {
          observedGeneration?: number;
          conditions?: { type: string; status: string; message: string; reason: string }[];
        };
      };
      const c = o.status?.conditions?.find((x) => x.type === 'InvalidConfig' && x.status === 'True');
      return c ? { c, o } : undefined;
    });
    assert.match(bad.c.message, /spec\.config\.maxItems/);
    assert.equal(bad.o.status?.observedGeneration, 3);
    await waitFor(
      'the invalid Ingester is no longer served',
      async () => (await post(`${a.url}/ingest/generic-v2`, '{"severity":"low","title":"x"}')).status === 404,
    );
    await api.delete({ ...ING, namespace: NS, name: 'generic' });
    await Promise.all([a.stop(), b.stop()]);
  });

  test('leader election: never two leaders, SIGTERM handover, kill -9 takeover, cut connection stops leader work first', async () => {
    const logDir = tempDir('zw-leader-');
    dirs.push(logDir);
    const leaderLog = join(logDir, 'leader.jsonl');
    writeFileSync(leaderLog, '');
    const proxy: TcpProxy = await startTcpProxy('127.0.0.1', serverPort(cp!));
    const viaProxy = kubeconfigVia(cp!, proxy.port);
    const env = { ZEN_LEADER_ELECTION_ID: 'ha-test', ZEN_TEST_LEADER_LOG: leaderLog };
    try {
      let reps = [await replica('ha-a', env, viaProxy), await replica('ha-b', env)];
      const leaderOf = async () => {
        const flags = await Promise.all(reps.map(isLeader));
        assert.ok(
          flags.filter(Boolean).length <= 1,
          `two leaders at once: ${reps.map((r, i) => `${r.url}=${flags[i]}`).join(' ')}`,
        );
        const i = flags.indexOf(true);
        return i >= 0 ? reps[i] : undefined;
      };
      await waitFor('a leader', leaderOf);

      // 1. Sampled every 100 ms for 30 s: never two leaders.
      const until = Date.now() + 30_000;
      let samples = 0;
      while (Date.now() < until) {
        await leaderOf();
        samples++;
        await sleep(100);
      }
      assert.ok(samples > 100, `${samples} samples`);

      // 2. SIGTERM to the leader: the other leads within the retry period + 1 s.
      let leader = (await leaderOf())!;
      let other = reps.find((r) => r !== leader)!;
      const termAt = Date.now();
      const stopped = leader.stop('SIGTERM');
      await waitFor('the follower to lead after SIGTERM', () => isLeader(other), 10_000, 20);
      const handoverMs = Date.now() - termAt;
      assert.equal(await stopped, 0);
      assert.ok(handoverMs <= TIMINGS.retry * 1000 + 1000, `graceful handover took ${handoverMs} ms`);
      reps = [other, await replica('ha-c', env, viaProxy)];

      // 3. kill -9 the leader: the other leads within lease duration + retry period.
      leader = other;
      other = reps[1]!;
      const killAt = Date.now();
      await leader.stop('SIGKILL');
      // A killed process records nothing: its leader work ended when it died.
      writeFileSync(leaderLog, `${JSON.stringify({ event: 'stop', identity: names.get(leader), t: killAt })}\n`, {
        flag: 'a',
      });
      await waitFor('the follower to lead after kill -9', () => isLeader(other), 20_000, 50);
      const crashMs = Date.now() - killAt;
      assert.ok(crashMs <= (TIMINGS.lease + TIMINGS.retry) * 1000 + 500, `crash takeover took ${crashMs} ms`);
      reps = [other, await replica('ha-d', env)];

      // 4. Cut the leader's connection (it keeps running): it stops leader work before the other starts.
      assert.ok(await isLeader(reps[0]!), 'ha-c (behind the proxy) leads');
      const cutAt = Date.now();
      proxy.cut();
      await waitFor('ha-d to lead after the cut', () => isLeader(reps[1]!), 30_000, 50);
      const events = readLeaderLog(leaderLog);
      const cStop = events.find((e) => e.identity === 'ha-c' && e.event === 'stop' && e.t >= cutAt);
      const dStart = events.find((e) => e.identity === 'ha-d' && e.event === 'start');
      assert.ok(cStop, 'ha-c recorded the end of its leader work');
      assert.ok(dStart, 'ha-d recorded the start of its leader work');
      assert.ok(cStop.t < dStart.t, `ha-c stopped at ${cStop.t}, ha-d started at ${dStart.t}`);
      const intervals = assertNoOverlap(events);
      assert.ok(intervals.length >= 4, JSON.stringify(intervals));
      proxy.restore();
    } finally {
      await proxy.close();
    }
  });

  test('with a deduplicated webhook Ingester, a new replica is ready only once its read index has listed the Observations (ADR 0033)', async () => {
    // Enough Observations that the index's first list takes a while; in a namespace of their own.
    const ns = 'index-ready';
    await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: ns } } });
    const N = 1500;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          const i = next++;
          const o = makeObservation({
            source: 'pre',
            severity: 'low',
            title: `existing finding ${i}`,
            namespace: ns,
            detectedAt: new Date(),
            details: { pad: 'x'.repeat(600) },
          });
          await api.create({ ...OBS, namespace: ns, body: observationObject(o) });
        }
      }),
    );
    await api.create({
      ...ING,
      namespace: NS,
      body: ingester('dedup-hook', {
        source: 'generic',
        plugin: 'webhook',
        ingester: 'webhook',
        webhook: { path: '/ingest/dedup-hook' },
        deduplication: { enabled: true, window: '60s' },
      }),
    });
    try {
      const r = await replica('index-ready-a', { ZEN_LEADER_ELECTION_ID: 'index-ready' });
      // From the moment it listens: /readyz says why it waits, until the index has every Observation.
      const reasons = new Set<string>();
      await waitFor(
        'ready',
        async () => {
          const res = await fetch(`${r.url}/readyz`);
          const body = (await res.json()) as { reason?: string };
          if (body.reason) reasons.add(body.reason.replace(/\(\d+ so far/, '(n so far'));
          return res.status === 200;
        },
        60_000,
        10,
      );
      assert.ok(
        [...reasons].some((x) => /^read index: listing the cluster's Observations/.test(x)),
        `not ready while listing: ${JSON.stringify([...reasons])}`,
      );
      // Logged when /readyz first saw the index synced; the line reaches this process's pipe a moment later.
      const synced = await waitFor(
        'the log line of the index synced',
        () =>
          /"observations":(\d+)[^\n]*read index synced: ready for deduplicated webhooks/.exec(r.stderr()) ?? undefined,
      );
      assert.ok(Number(synced[1]) >= N, `the index held ${synced[1]} Observations when it became ready`);
      // No alert was needed to start the index, and a webhook is answered from it.
      const res = await post(`${r.url}/ingest/dedup-hook`, '{"severity":"low","title":"after ready"}');
      assert.equal(res.status, 200);
      const text = await (await fetch(`${r.url}/metrics`)).text();
      assert.match(text, /^zen_watcher_previous_bucket_lookups_total\{via="index",outcome="absent"\} 1$/m);
      await r.stop();
    } finally {
      // The Observations stay: the control plane is this file's, and nothing here expires them.
      await api.delete({ ...ING, namespace: NS, name: 'dedup-hook' });
    }
  });

  test('GC deletes only expired Observations, and only on the leader', async () => {
    const env = { ZEN_LEADER_ELECTION_ID: 'gc-test', ZEN_GC_INTERVAL_SECONDS: '1' };
    const mk = (name: string, ttl: number) => ({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Observation',
      metadata: { name, namespace: NS },
      spec: {
        source: 'gc',
        category: 'security',
        severity: 'low',
        eventType: 'test',
        title: name,
        fingerprint: 'a'.repeat(64),
        detectedAt: new Date().toISOString(),
        ttlSecondsAfterCreation: ttl,
      },
    });
    for (const [n, ttl] of [
      ['gc-expires-1', 1],
      ['gc-expires-2', 1],
      ['gc-keeps', 3600],
    ] as const)
      await api.create({ ...OBS, namespace: NS, body: mk(n, ttl) });
    const a = await replica('gc-a', env);
    const b = await replica('gc-b', env);
    await waitFor('expired Observations gone', async () => {
      const names = (await api.list<{ metadata: { name: string } }>({ ...OBS, namespace: NS })).items
        .map((o) => o.metadata.name)
        .filter((n) => n.startsWith('gc-'));
      return names.length === 1 && names[0] === 'gc-keeps';
    });
    // The counter moves when a GC pass ends, after its deletes reached the API server; a pass that the list
    // above already shows done may still be counting, so the count is awaited, then checked exactly.
    const countDeletes = () =>
      Promise.all(
        [a, b].map(async (p) => {
          const text = await (await fetch(`${p.url}/metrics`)).text();
          const m = /^zen_watcher_observations_deleted_total\{reason="ttl"\} (\d+)/m.exec(text);
          return { leader: await isLeader(p), deleted: Number(m?.[1] ?? 0) };
        }),
      );
    let deletedBy = await countDeletes();
    await waitFor('both deletions counted', async () => {
      deletedBy = await countDeletes();
      return deletedBy.reduce((n, d) => n + d.deleted, 0) >= 2;
    }).catch(() => undefined);
    assert.equal(
      deletedBy.reduce((n, d) => n + d.deleted, 0),
      2,
      JSON.stringify(deletedBy),
    );
    for (const d of deletedBy) if (!d.leader) assert.equal(d.deleted, 0, 'a follower deleted nothing');
    await Promise.all([a.stop(), b.stop()]);
  });
});
