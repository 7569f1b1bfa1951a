/**
 * The read API (and so the UI) follows a finding's life in standalone mode, not only its creation (ADR 0017): repeats
 * raise the count the detail view shows, an update in place changes the severity the list shows, and a resolution
 * from the source shows Resolved in the list, the summary and the detail, without a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cleanup, post, startTestHost, type TestHost, writeConfigDir } from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

const INGESTER = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: alertmanager, namespace: default }
spec:
  source: alertmanager
  plugin: webhook
  ingester: webhook
  webhook: { path: /ingest/alertmanager }
  deduplication: { window: 0s }
  config:
    itemsField: alerts
    fields:
      severity: labels.severity
      title: annotations.summary
      fingerprint: fingerprint
      detectedAt: startsAt
      details: labels
    defaults: { severity: medium }
    resolution: { field: status, values: [resolved], resolvedAtField: endsAt }
`;

interface Item {
  namespace: string;
  name: string;
  severity: string;
  phase: string;
  title: string;
  resolvedAt?: string;
}

describe('read API follows a finding after its creation (standalone)', () => {
  let th: TestHost;
  const configDir = writeConfigDir({ 'alertmanager.yaml': INGESTER });
  const t0 = Date.now() - 10 * 60_000;
  const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
  const alert = (status: string, severity: string, startsAt: string, endsAt?: string) =>
    JSON.stringify({
      alerts: [
        {
          status,
          fingerprint: 'fp-disk-full',
          startsAt,
          ...(endsAt ? { endsAt } : {}),
          labels: { severity, alertname: 'DiskFull' },
          annotations: { summary: 'disk full on node-1' },
        },
      ],
    });
  const get = async <T>(path: string) => (await (await fetch(`${th.url}/api/v1/${path}`)).json()) as T;
  const only = async () => {
    const l = await get<{ items: Item[]; total: number }>('observations?source=alertmanager');
    assert.equal(l.total, 1, JSON.stringify(l));
    return l.items[0]!;
  };

  before(async () => {
    th = await startTestHost({ configDir, env: { ZEN_OCCURRENCE_FLUSH_SECONDS: '1' } });
  });
  after(async () => {
    await th?.stop();
    cleanup(configDir, th?.dataDir ?? '');
  });

  test('repeats: the detail view counts them (status.count), first and last seen', async () => {
    assert.equal((await post(`${th.url}/ingest/alertmanager`, alert('firing', 'warning', at(0)))).status, 200);
    const first = await only();
    assert.equal(first.phase, 'Active');
    assert.equal((await post(`${th.url}/ingest/alertmanager`, alert('firing', 'warning', at(1)))).status, 200);
    assert.equal((await post(`${th.url}/ingest/alertmanager`, alert('firing', 'warning', at(2)))).status, 200);
    const d = await waitFor('the repeats flushed into the detail view', async () => {
      const x = await get<{ occurrences: { count: number; firstSeen: string; lastSeen: string } }>(
        `observations/${first.namespace}/${first.name}`,
      );
      return x.occurrences.count === 3 ? x : undefined;
    });
    assert.equal(Date.parse(d.occurrences.lastSeen), Date.parse(at(2)));
    assert.ok(Date.parse(d.occurrences.firstSeen) <= Date.parse(at(0)) + 60_000, d.occurrences.firstSeen);
  });

  test('an update in place: the list shows the later report', async () => {
    assert.equal((await post(`${th.url}/ingest/alertmanager`, alert('firing', 'critical', at(3)))).status, 200);
    await waitFor('the list shows the new severity', async () => (await only()).severity === 'critical');
    const crit = await get<{ total: number }>('observations?severity=critical');
    assert.equal(crit.total, 1);
  });

  test('a resolution from the source: Resolved in the list, the summary and the detail', async () => {
    assert.equal(
      (await post(`${th.url}/ingest/alertmanager`, alert('resolved', 'critical', at(3), at(4)))).status,
      200,
    );
    // The resolution is written before the request is answered: no wait needed.
    const item = await only();
    assert.equal(item.phase, 'Resolved');
    assert.equal(item.resolvedAt, at(4));
    const s = await get<{ active: number; resolved: number }>('summary?source=alertmanager');
    assert.deepEqual([s.active, s.resolved], [0, 1]);
    const d = await get<{ item: Item }>(`observations/${item.namespace}/${item.name}`);
    assert.equal(d.item.phase, 'Resolved');
  });
});
