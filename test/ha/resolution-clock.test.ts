/**
 * Durable resolution clocks and counts across a failover (issue #15 item 4, ADR 0022), two replicas on the real
 * control plane. An informer finding disappears (its ConfigMap is deleted); the leader persists the time it was
 * first missed in `status.missingSince`; in the middle of the grace period (ZEN_RESOLVE_AFTER_SECONDS) the leader
 * is killed (SIGKILL). The new leader continues the persisted clock: the finding is resolved at the original
 * deadline (missingSince + grace), never before it and at most one resolve tick after it, instead of a whole
 * grace period after the takeover (what an in-memory clock gave). Meanwhile a webhook finding is repeated on
 * both replicas before and after the failover: its status.count equals the number of reports exactly.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { cleanup, tempDir } from '../support/host.ts';
import { ingesterObject } from './support/load.ts';
import { leaderGauge, type Replica, ReplicaSet } from './support/replicas.ts';
import { waitFor } from './support/stats.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-clock';
const LOAD_NS = 'clock-load';
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const CM = { group: '', version: 'v1', plural: 'configmaps' };
const T = { lease: 4, renew: 3, retry: 1 };
const GRACE_S = 20;
/** The leader's resolve tick for this grace period (core/host/host.ts: min(5 s, max(1 s, grace / 2))). */
const TICK_MS = Math.min(5000, Math.max(1000, (GRACE_S * 1000) / 2));

interface Obs {
  metadata: { name: string };
  spec: { source: string; title: string };
  status?: { phase?: string; missingSince?: string; resolvedAt?: string; count?: number };
}

describe('a failover in the middle of a grace period', { skip }, () => {
  let api: KubeApi;
  let set: ReplicaSet;
  let work: string;

  before(async () => {
    api = adminKubeApi(cp!);
    work = tempDir('zw-clock-');
    await ensureNamespaces(api, NS, LOAD_NS);
    await api.create({
      ...ING,
      namespace: NS,
      body: ingesterObject({
        name: 'cm-findings',
        namespace: NS,
        spec: {
          source: 'cm-findings',
          plugin: 'informer',
          ingester: 'informer',
          informer: {
            gvr: { group: '', version: 'v1', resource: 'configmaps' },
            namespace: LOAD_NS,
            labelSelector: 'finding=yes',
          },
          config: { fields: { title: 'metadata.name' }, defaults: { severity: 'high' } },
        },
      }),
    });
    await api.create({
      ...ING,
      namespace: NS,
      body: ingesterObject({
        name: 'repeats',
        namespace: NS,
        spec: {
          source: 'repeats',
          plugin: 'webhook',
          ingester: 'webhook',
          webhook: { path: '/ingest/repeats' },
          deduplication: { window: '0s' },
          config: { fields: { fingerprint: 'id' } },
        },
      }),
    });
    set = new ReplicaSet(cp!, work, {
      POD_NAMESPACE: NS,
      ZEN_LEASE_DURATION_SECONDS: String(T.lease),
      ZEN_RENEW_DEADLINE_SECONDS: String(T.renew),
      ZEN_RETRY_PERIOD_SECONDS: String(T.retry),
      ZEN_RESOLVE_AFTER_SECONDS: String(GRACE_S),
      ZEN_OCCURRENCE_FLUSH_SECONDS: '1',
      // Informer work on the leader (not sharded across the replicas, ADR 0020), so that killing the leader kills
      // the owner of the finding's clock. Sharded, a slot's next owner continues the persisted clock the same way.
      ZEN_SHARD_SLOTS: '1',
      ZEN_DATA_DIR: join(work, 'data'),
    });
  });
  after(async () => {
    await set?.close();
    await api?.close();
    cleanup(work);
  });

  const leader = async (among: Replica[]) =>
    waitFor('a leader', async () => {
      for (const r of among) if ((await leaderGauge(r)) === 1) return r;
      return undefined;
    });
  const observations = async (source: string) =>
    (await api.list<Obs>({ ...OBS, namespace: LOAD_NS })).items
      .concat((await api.list<Obs>({ ...OBS, namespace: NS })).items)
      .filter((o) => o.spec.source === source);
  let sent = 0;
  const repeat = async (r: Replica, n: number) => {
    const body = JSON.stringify(Array.from({ length: n }, () => ({ id: 'r-1', severity: 'low', title: 'repeated' })));
    const res = await fetch(`${r.url}/ingest/repeats`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200, await res.text());
    sent += n;
  };

  test('resolves at the original deadline ± one resolve tick; counts are exact across the failover', async () => {
    const replicas = [await set.start('a'), await set.start('b')];
    for (const r of replicas) {
      await waitFor(`${r.identity} serves repeats`, async () => {
        return (await fetch(`${r.url}/ingest/repeats`)).status === 405;
      });
    }
    const first = await leader(replicas);
    await api.create({
      ...CM,
      namespace: LOAD_NS,
      body: { metadata: { name: 'finding-1', namespace: LOAD_NS, labels: { finding: 'yes' } }, data: { a: 'b' } },
    });
    await waitFor('the finding written', async () => (await observations('cm-findings')).length === 1, 30_000);
    for (const r of replicas) await repeat(r, 25);

    // The finding goes away: the leader starts its clock and persists it.
    await api.delete({ ...CM, namespace: LOAD_NS, name: 'finding-1' });
    const clock = await waitFor(
      'status.missingSince persisted',
      async () => (await observations('cm-findings'))[0]?.status?.missingSince,
      30_000,
    );
    const deadline = Date.parse(clock) + GRACE_S * 1000;
    await waitFor(
      'the repeats counted',
      async () => (await observations('repeats'))[0]?.status?.count === sent,
      30_000,
    );

    // Halfway through the grace period the leader dies.
    await sleep(Math.max(0, Date.parse(clock) + (GRACE_S * 1000) / 2 - Date.now()));
    const killedAt = Date.now();
    await set.signal(first, 'SIGKILL');
    const survivor = replicas.find((r) => r !== first)!;
    const second = await leader([survivor]);
    const tookOverAt = Date.now();
    assert.ok(tookOverAt < deadline, 'the takeover happened inside the grace period');
    const restarted = await set.start(first.slot);
    await waitFor(`${restarted.identity} serves repeats`, async () => {
      return (await fetch(`${restarted.url}/ingest/repeats`)).status === 405;
    });
    for (const r of [survivor, restarted]) await repeat(r, 25);

    const resolved = await waitFor(
      'Resolved',
      async () => {
        const [o] = await observations('cm-findings');
        return o?.status?.phase === 'Resolved' ? o : undefined;
      },
      (GRACE_S + 30) * 1000,
    );
    const resolvedAt = Date.parse(resolved.status!.resolvedAt!);
    const lateMs = resolvedAt - deadline;
    const inMemoryDeadline = tookOverAt + GRACE_S * 1000;
    console.log(
      `grace ${GRACE_S} s, tick ${TICK_MS} ms: missingSince ${clock}, leader ${first.identity} killed ` +
        `${((killedAt - Date.parse(clock)) / 1000).toFixed(1)} s in, ${second.identity} leads ` +
        `${((tookOverAt - killedAt) / 1000).toFixed(1)} s later; resolved ${(lateMs / 1000).toFixed(2)} s after the ` +
        `original deadline (an in-memory clock: ≥ ${((inMemoryDeadline - deadline) / 1000).toFixed(1)} s after it)`,
    );
    assert.ok(lateMs >= 0, `resolved ${lateMs} ms before the deadline`);
    assert.ok(lateMs <= TICK_MS, `resolved ${lateMs} ms after the deadline (more than one tick, ${TICK_MS} ms)`);
    assert.equal(resolved.status?.missingSince, undefined, 'the clock is removed with the resolution');

    await waitFor(
      'every repeat counted',
      async () => (await observations('repeats'))[0]?.status?.count === sent,
      30_000,
    );
    const [counted] = await observations('repeats');
    console.log(
      `counts across the failover: ${sent} reports on 2 replicas (one killed and restarted) → count ${counted!.status!.count}`,
    );
    assert.equal((await observations('repeats')).length, 1);
  });
});
