/**
 * Fencing of leader-only writes on the real control plane (issue #15 item 4, ADR 0022). A former leader's write
 * that arrives after a newer leader wrote the same Observation must not land, and the API server is what refuses
 * it: the write carries the resourceVersion the former leader read in its term as a precondition.
 *
 *   - status: A (the former leader) read the Observation and decided to resolve it (its grace period passed);
 *     its local guard said yes, then it stalled. B, the new leader, sees the finding reported again and stops its
 *     clock (status.missingSince removed). A's resolution then arrives: refused (409), and when A reads again it may
 *     no longer act, so the Observation stays Active.
 *   - delete: A listed an expired Observation; B writes it (a count, a reactivation); A's delete then arrives with
 *     the listed resourceVersion: refused, the Observation is kept.
 *
 * Each fails without the fencing (a patch without metadata.resourceVersion, a delete with only the uid
 * precondition): the Observation ends up Resolved, or deleted.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { IngesterConfig } from '../../core/config/validate.ts';
import { runGc } from '../../core/gc/index.ts';
import { kubeObservationIndex } from '../../core/host/kube-index.ts';
import { SCOPE_LABEL, scopeLabel } from '../../core/host/observation-index.ts';
import { createKubeApi, type KubeApi } from '../../core/kube/index.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';

const { cp, skip } = await controlPlaneOrSkip();
const NS = `zen-fence-${randomBytes(4).toString('hex')}`;
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { name: 'trivy', namespace: NS } as IngesterConfig;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
let api: KubeApi;
after(async () => {
  await api?.close();
  await cp?.stop();
});

interface Stored {
  metadata: { resourceVersion: string };
  status?: { phase?: string; missingSince?: string; count?: number };
}

const observation = (name: string, ttl = 3600) => ({
  apiVersion: 'zen.kube-zen.io/v1alpha1',
  kind: 'Observation',
  metadata: {
    name,
    namespace: NS,
    labels: {
      'zen.kube-zen.io/ingester': ING.name,
      'zen.kube-zen.io/ingester-namespace': ING.namespace,
      [SCOPE_LABEL]: scopeLabel('report'),
    },
  },
  spec: {
    source: 'trivy',
    category: 'security',
    severity: 'high',
    eventType: 'vulnerability',
    title: name,
    fingerprint: createHash('sha256').update(name).digest('hex'),
    detectedAt: new Date().toISOString(),
    ttlSecondsAfterCreation: ttl,
  },
});

/** A leader guard that says yes once (the check right before the send), then no: the term ended meanwhile. */
function endsAfterOneCheck() {
  let checks = 0;
  return () => ++checks <= 1;
}

describe('fencing: a former leader cannot overwrite what a newer leader wrote', { skip }, () => {
  before(async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp!.kubeconfigPath);
    api = createKubeApi(kc);
    await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: NS } } });
  });

  test("a former leader's late resolution is refused by the API server", async () => {
    await api.create({ ...OBS, namespace: NS, body: observation('late-resolve') });
    // A, while leading: the finding is missing, its clock is persisted.
    let aCanAct = true;
    const a = kubeObservationIndex(api, [NS], () => aCanAct);
    const [seen] = await a.list(ING, scopeLabel('report'));
    const clocked = await a.setMissing!(seen!, Date.now() - 60_000);
    assert.ok(clocked?.missingSince, 'the clock is persisted');

    // A's term ends. B leads and sees the finding again: its clock stops.
    aCanAct = false;
    const conflicts: string[] = [];
    const b = kubeObservationIndex(api, [NS], () => true);
    const [fromB] = await b.list(ING, scopeLabel('report'));
    assert.equal(fromB?.missingSince, clocked!.missingSince, 'B continues the clock A persisted');
    await b.setMissing!(fromB!, undefined);

    // A's resolution, decided in its term on what it read then, arrives now (its guard passed before it stalled).
    const late = kubeObservationIndex(api, [NS], endsAfterOneCheck(), {
      kubeConfig: new KubeConfig(),
      log: silent,
      onPreconditionFailed: () => conflicts.push('status'),
    });
    const outcome = await late.setPhase(clocked!, 'Resolved', 'late write from a former leader');
    const stored = await api.get<Stored>({ ...OBS, namespace: NS, name: 'late-resolve' });
    console.log(`late resolution from a former leader: ${outcome}, ${conflicts.length} refused by the API server`);
    assert.equal(stored.status?.phase, 'Active', 'the newer leader’s state stands');
    assert.equal(stored.status?.missingSince, undefined);
    assert.deepEqual([outcome, conflicts], ['fenced', ['status']]);
  });

  test("a former leader's late GC delete is refused by the API server", async () => {
    await api.create({ ...OBS, namespace: NS, body: observation('late-delete', 1) });
    let written = 0;
    // The delete of A arrives after B wrote the Observation (here: a status write landing between A's list and
    // A's delete, as a newer leader's or another replica's write would).
    const stalled = {
      list: api.list.bind(api),
      delete: async (p: Parameters<KubeApi['delete']>[0]) => {
        if (p.name === 'late-delete') {
          const cur = await api.get<Stored>({ ...OBS, namespace: NS, name: p.name });
          await api.patch({
            ...OBS,
            namespace: NS,
            name: p.name,
            subresource: 'status',
            body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, status: { count: 2 } },
          });
          written++;
        }
        return api.delete(p);
      },
    };
    const r = await runGc({
      api: stalled,
      namespaces: [NS],
      defaultTtlSeconds: 3600,
      canAct: () => true,
      signal: new AbortController().signal,
      now: () => Date.now() + 10 * 60_000,
      log: silent,
    });
    console.log(`late GC delete from a former leader: deleted ${r.deleted}, refused ${r.conflicts}`);
    const kept = await api.get<Stored>({ ...OBS, namespace: NS, name: 'late-delete' });
    assert.equal(written, 1);
    assert.equal(kept.status?.count, 2, 'the newer write stands');
    assert.deepEqual([r.deleted, r.conflicts], [0, 1]);
  });
});
