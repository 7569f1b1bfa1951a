/**
 * Resolution across shard epochs (issue #13, open sharding defect 2; ADR 0020): a finding dropped from a report
 * while its unit's owner stays the same must end Resolved, even when the owner's epoch restarts (a rebalance of
 * OTHER slots) inside the grace period.
 *
 * The real Trivy and Kyverno plugins, the real host core (pipeline, resolver, Observation sink and watch-fed index)
 * on the real control plane; only the slot Leases are replaced by a slot source the test holds and releases, so
 * epochs change exactly when the test says, and the resolver's clock is the test's (the grace period passes when
 * the test moves it). Per source:
 *
 *   1. all slots held (epoch 1): a report with findings 0, 1, 2 → three Active Observations;
 *   2. the report is updated to 1, 2, 3: finding 0 is missing, its grace period starts (epoch 1);
 *   3. a slot of ANOTHER unit is released: epoch 1 ends, epoch 2 starts with the unit's slot still held and relists
 *      (the scope is reconciled again, finding 0 still missing, inside the grace period);
 *   4. the grace period passes; one resolve tick: finding 0's Observation is Resolved, the other three Active.
 *
 * What this caught (the last CI runs of test/ha/shard-faults.test.ts: three findings Active for good): the
 * resolver kept the missing-since entry of step 2 with the context of epoch 1, step 3 found that entry and left
 * it there, and the next tick dropped it because epoch 1 had ended; the scope was not reconciled again in epoch 2
 * (its report did not change), so nothing ever resolved the finding.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { readEnv } from '../../core/config/env.ts';
import { createHostCore, type HostCore } from '../../core/host/core.ts';
import { kubeObservationIndex } from '../../core/host/kube-index.ts';
import { createPluginKube } from '../../core/host/plugin-kube.ts';
import { createKubeApi, type KubeApi } from '../../core/kube/api.ts';
import { shardWork } from '../../core/shard/context.ts';
import { ShardHub, type ShardSource } from '../../core/shard/hub.ts';
import { slotOf } from '../../core/shard/slots.ts';
import { KubeObservationSink } from '../../core/sinks/kube-sink.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import { applyCrds, informerSources, ingesterObject } from '../ha/support/load.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { realFixturesDir } from '../support/fixtures.ts';
import { waitForWith } from '../support/wait.ts';

const fixtures = realFixturesDir();
if (!fixtures && process.env.CI === 'true') throw new Error('real fixture corpus not found; set ZEN_REAL_FIXTURES');
const sources = fixtures ? informerSources(fixtures, ['trivy', 'kyverno']) : [];
const noCorpus = sources.length === 2 ? undefined : 'real fixture corpus (trivy, kyverno CRDs) not found';
const { cp, skip: cpSkip } = noCorpus ? { cp: undefined, skip: undefined } : await controlPlaneOrSkip();
after(async () => cp?.stop());
const skip = noCorpus ?? cpSkip;

const SLOTS = 4;
const GRACE_MS = 60_000;
const RUN = randomBytes(3).toString('hex');
const NS = `zen-epr-${RUN}`;
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const waitFor = waitForWith({ timeoutMs: 60_000, everyMs: 100 });

interface Obs {
  metadata: { name: string };
  status?: { phase?: string };
}

/** The slots this replica holds, as the test says (in place of the slot Leases). */
class Slots implements ShardSource {
  readonly slots = SLOTS;
  readonly identity = 'epoch-test';
  readonly held = new Set<number>();
  owned = () => [...this.held].sort();
  canAct = (slot: number) => this.held.has(slot);
}

let api: KubeApi;
let kc: KubeConfig;

describe('resolution across shard epochs: a finding dropped while the owner stays', { skip }, () => {
  before(async () => {
    kc = new KubeConfig();
    kc.loadFromFile(cp!.kubeconfigPath);
    api = createKubeApi(kc);
    await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: NS } } });
    await applyCrds(
      api,
      sources.flatMap((s) => s.crds),
    );
  });
  after(async () => api?.close());

  for (const source of sources) {
    test(`${source.source}: Resolved after an epoch restart inside the grace period`, async (t) => {
      const log = createLogger({ level: process.env.ZEN_TEST_LOG ?? 'silent' });
      const metrics = createMetrics();
      const env = readEnv({ ZEN_MODE: 'kubernetes', ZEN_RESOLVE_AFTER_SECONDS: String(GRACE_MS / 1000) });
      const canActAsLeader = () => shardWork.getStore()?.epoch.canAct() ?? false;
      let offset = 0;
      const now = () => Date.now() + offset;
      const sink = new KubeObservationSink({ kubeConfig: kc, qps: 100, burst: 100, canActAsLeader });
      const index = kubeObservationIndex(api, [], canActAsLeader, { kubeConfig: kc, log });
      const hub = new ShardHub(SLOTS, { debounceMs: 20, maxWaitMs: 100 });
      const slots = new Slots();
      hub.attach(slots);
      const core: HostCore = createHostCore({
        env,
        log,
        metrics,
        sink,
        kube: createPluginKube({ kc, log, metrics, watched: [] }),
        index,
        canActAsLeader,
        now,
        shard: hub,
      });
      t.after(async () => {
        hub.close();
        await core.hooks.onStop.promise({ reason: 'test done' });
        await sink.close();
      });
      await core.loadPlugins([source.pluginDir]);
      // As core/host/kubernetes.ts: every epoch keeps the resolver's cache of the owned units.
      hub.onEpoch((e) => index.cacheFor(e.signal, (ing, ns) => e.owned.has(slotOf(ing, ns, e.slots))));

      const name = `epr-${source.source}`;
      const reportNs = `${NS}-${source.source}`;
      await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: reportNs } } });
      const def = {
        name,
        namespace: NS,
        spec: { source: source.source, plugin: source.handler, ingester: 'informer', ...source.spec },
      };
      const valid = core.validator.validate(ingesterObject(def), NS);
      assert.ok(valid.ok, `Ingester valid: ${JSON.stringify(valid)}`);
      await core.ingesters.replace([valid.ingester], []);
      const unit = slotOf(`${NS}/${name}`, reportNs, SLOTS);
      const other = (unit + 1) % SLOTS;
      // Epoch 1: every slot.
      for (let s = 0; s < SLOTS; s++) {
        slots.held.add(s);
        hub.acquired(s);
      }
      const gvr = `${source.gvr.group || 'core'}/${source.gvr.version}/${source.gvr.plural}`;
      const synced = async () => (await metrics.informerSynced.get()).values.find((v) => v.labels.gvr === gvr)?.value;
      await waitFor('epoch 1: the informer listed', async () => (await synced()) === 1);

      const list = async () =>
        (
          await api.list<Obs>({
            ...OBS,
            labelSelector: `zen.kube-zen.io/ingester=${name}`,
          })
        ).items;
      const phases = async () => {
        const all = await list();
        return {
          active: all.filter((o) => o.status?.phase !== 'Resolved').length,
          resolved: all.filter((o) => o.status?.phase === 'Resolved').length,
        };
      };

      // 1. Findings 0, 1, 2.
      const ref = { ...source.gvr, namespace: reportNs };
      const first = source.make(1, reportNs, [0, 1, 2]);
      await api.create({ ...ref, body: first });
      await waitFor('three Observations', async () => (await list()).length === 3);

      // 2. Finding 0 dropped, 3 added: 0 is missing, its grace period runs.
      const second = source.make(1, reportNs, [1, 2, 3]);
      const reportName = (first.metadata as { name: string }).name;
      const current = await api.get<{ metadata: { resourceVersion: string } }>({ ...ref, name: reportName });
      await api.replace({
        ...ref,
        name: reportName,
        body: {
          ...second,
          metadata: { ...(second.metadata as object), resourceVersion: current.metadata.resourceVersion },
        },
      });
      await waitFor('the update reconciled (a fourth Observation)', async () => (await list()).length === 4);
      await waitFor('finding 0 waits out its grace period', () => core.resolver!.pending === 1);
      await core.resolver!.tick(); // persists its missing-since clock (still inside the grace period)

      // 3. Epoch 1 ends (a slot of another unit goes); epoch 2 keeps the unit's slot and relists.
      assert.notEqual(other, unit);
      slots.held.delete(other);
      hub.released(other);
      await waitFor('epoch 2: the informer stopped and listed again', async () => (await synced()) === 0);
      await waitFor('epoch 2: the informer listed', async () => (await synced()) === 1);
      assert.equal(hub.current()?.owned.has(unit), true, 'the unit’s slot is held all along');
      assert.deepEqual(await phases(), { active: 4, resolved: 0 }, 'nothing resolved inside the grace period');

      // 4. The grace period passes.
      offset += GRACE_MS + 1_000;
      await core.resolver!.tick();
      assert.deepEqual(
        await phases(),
        { active: 3, resolved: 1 },
        'finding 0 Resolved after its grace period, the three still reported Active',
      );
      assert.equal(core.resolver!.pending, 0);
    });
  }
});
