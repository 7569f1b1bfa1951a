/**
 * The life of a webhook finding on the real control plane (issue #15 items 1 and 2), two replicas: Alertmanager's
 * `status: resolved` (through the generic webhook plugin's `config.resolution`) resolves the Observation of the
 * firing alert, whichever replica receives it; a later firing re-opens the same Observation; a late retry of an
 * old firing does not; and a changed severity of the same alert is written in place, to the latest report by
 * event time, whatever order the replicas see the reports in, and not again for an unchanged report
 * (metadata.generation counts spec writes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeApi } from '../../core/kube/api.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { type HostProcess, post } from '../support/host.ts';
import { type KubeReplicas, kubeReplicas, OBS } from '../support/kube-replicas.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-life';

interface Obs {
  metadata: { name: string; generation?: number; labels?: Record<string, string> };
  spec: { severity: string; detectedAt: string; details?: { alertname?: string } };
  status?: { count?: number; lastSeen?: string; phase?: string; resolvedAt?: string; reason?: string };
}

const NEVER = '0001-01-01T00:00:00Z';
const body = (fp: string, status: string, startsAt: string, endsAt = NEVER, severity = 'warning') =>
  JSON.stringify({
    receiver: 'zen',
    status,
    alerts: [
      {
        status,
        labels: { alertname: fp, severity, namespace: NS, pod: 'web-1' },
        annotations: { summary: 'Pod web-1 is crash looping' },
        startsAt,
        endsAt,
        fingerprint: fp,
      },
    ],
  });

describe('webhook findings: resolution, re-opening and updates in place, two replicas', { skip }, () => {
  let kube: KubeReplicas;
  let api: KubeApi;
  let procs: HostProcess[] = [];
  const send = async (i: number, payload: string) => {
    const res = await post(`${procs[i]!.url}/ingest/alertmanager`, payload);
    assert.equal(res.status, 200, res.text);
    return res.json as { created: number; duplicates: number; resolved: number; dropped: number };
  };
  const mine = async (fp: string) =>
    (await api.list<Obs>({ ...OBS, namespace: NS, labelSelector: 'source=alertmanager' })).items.filter(
      (o) => o.spec.details?.alertname === fp,
    );

  before(async () => {
    kube = await kubeReplicas(cp!, {
      namespace: NS,
      electionId: 'life',
      route: '/ingest/alertmanager',
      env: { ZEN_OCCURRENCE_FLUSH_SECONDS: '1' },
    });
    api = kube.api;
    await kube.ingester('alertmanager', {
      source: 'alertmanager',
      plugin: 'webhook',
      ingester: 'webhook',
      webhook: { path: '/ingest/alertmanager' },
      deduplication: { window: '0s' },
      config: {
        itemsField: 'alerts',
        fields: {
          severity: 'labels.severity',
          title: 'annotations.summary',
          fingerprint: 'fingerprint',
          detectedAt: 'startsAt',
          details: 'labels',
        },
        resolution: { field: 'status', values: ['resolved'], resolvedAtField: 'endsAt' },
      },
    });
    procs = await kube.startAll(['life-a', 'life-b']);
  });
  after(async () => kube?.close());

  test('resolved on one replica resolves the firing written by the other; a later firing re-opens it', async () => {
    const fp = 'fp-crashloop-1';
    assert.equal((await send(0, body(fp, 'firing', '2026-12-01T10:00:00Z'))).created, 1);
    const [fired] = await mine(fp);
    assert.equal(fired?.status?.phase, 'Active');

    // The resolution is written before the answer: no waiting.
    const r = await send(1, body(fp, 'resolved', '2026-12-01T10:00:00Z', '2026-12-01T10:30:00Z'));
    assert.deepEqual([r.created, r.resolved], [0, 1]);
    let [o] = await mine(fp);
    assert.equal(o?.metadata.name, fired!.metadata.name);
    assert.deepEqual([o?.status?.phase, o?.status?.resolvedAt], ['Resolved', '2026-12-01T10:30:00.000Z']);

    // A late retry of the first firing (startsAt before endsAt): counted, still Resolved.
    await send(0, body(fp, 'firing', '2026-12-01T10:00:00Z'));
    await waitFor('the retry counted', async () => (await mine(fp))[0]?.status?.count === 2, 30_000);
    assert.equal((await mine(fp))[0]?.status?.phase, 'Resolved');

    // Alertmanager fires again later: the same Observation is Active again.
    await send(1, body(fp, 'firing', '2026-12-01T11:00:00Z'));
    await waitFor('re-opened', async () => (await mine(fp))[0]?.status?.phase === 'Active', 30_000);
    const all = await mine(fp);
    assert.equal(all.length, 1, 'one Observation for the alert');
    o = all[0];
    assert.equal(o?.metadata.name, fired!.metadata.name);
    assert.deepEqual(
      [o?.status?.count, o?.status?.resolvedAt, o?.status?.lastSeen],
      [3, undefined, '2026-12-01T11:00:00.000Z'],
    );
    console.log(`webhook resolution: ${o?.metadata.name} Active → Resolved → Active, count ${o?.status?.count}`);
  });

  test('a changed severity is updated in place to the latest report, whatever the order', async () => {
    const fp = 'fp-severity-2';
    await send(0, body(fp, 'firing', '2026-12-01T12:00:00Z', NEVER, 'warning'));
    // The newer report (critical) reaches replica B, an older one (info) reaches A afterwards.
    await send(1, body(fp, 'firing', '2026-12-01T12:00:10Z', NEVER, 'critical'));
    await send(0, body(fp, 'firing', '2026-12-01T12:00:05Z', NEVER, 'info'));
    await waitFor('both repeats counted', async () => (await mine(fp))[0]?.status?.count === 3, 30_000);
    let [o] = await mine(fp);
    assert.deepEqual([o?.spec.severity, o?.metadata.labels?.severity], ['critical', 'critical']);
    // One spec write per report that was newer than the Observation's content when its replica flushed: the
    // critical one, and the info one only if replica A flushed before B.
    const generation = o?.metadata.generation ?? 0;
    assert.ok(generation === 2 || generation === 3, `generation ${generation}`);
    // The same content again, on both replicas: counted, no further spec write (idempotent).
    await send(0, body(fp, 'firing', '2026-12-01T12:00:10Z', NEVER, 'critical'));
    await send(1, body(fp, 'firing', '2026-12-01T12:00:10Z', NEVER, 'critical'));
    await waitFor('counted', async () => (await mine(fp))[0]?.status?.count === 5, 30_000);
    [o] = await mine(fp);
    assert.equal(o?.metadata.generation, generation, 'no write for an unchanged report');
    console.log(`webhook update in place: severity warning → critical, generation ${generation}, count 5`);
  });
});
