/**
 * Delivery to a real Alertmanager from three zen-watcher replicas in kubernetes mode on the real control plane.
 * Issue #17 acceptance:
 * - findings from Trivy (informer, real report), Falco (webhook, real alert) and the generic webhook source appear
 *   as alerts with the right labels (source, severity, namespace, resource), queried through Alertmanager's API;
 * - a resolved finding ends its alert;
 * - a send Alertmanager accepted but whose answer was lost (outcome unknown to the sender), then the receiver down
 *   (connections refused) for ZEN_E2E_OUTAGE_SECONDS (default 60: the acceptance's minute) and the delivering
 *   replica killed with -9 meanwhile: every matching Observation reaches Alertmanager once it is back, 0 missing;
 *   duplicates are counted where Alertmanager received them (test/support/alert-relay.ts, by idempotency key) and
 *   printed: every one is an alert of the lost-answer send, and no more than the resends the replicas counted;
 * - a receiver answering 500 forever: the backlog stays within maxBacklog (metric), the rest is given up and counted
 *   (backlog + dropped = written), the watermark is in the Destination status; healed, the backlog arrives once;
 * - the Destination's status conditions say whether it delivers; once it is deleted, no replica keeps reporting
 *   its backlog gauges (a former lane's stale values would fire the stuck-backlog alert).
 *
 * Skipped with the reason when the control plane, the real corpus or an Alertmanager build is missing; under
 * CI=true that is a failure instead.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeApi } from '../../core/kube/api.ts';
import { readReports } from '../../plugins/trivy/test/helpers.ts';
import { AlertRelay } from '../support/alert-relay.ts';
import { type Alertmanager, alertmanagerOrSkip } from '../support/alertmanager.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { listFiles, realFixturesDir } from '../support/fixtures.ts';
import { type HostProcess, post, startHostProcess, tempDir } from '../support/host.ts';
import { Receiver } from '../support/receiver.ts';
import { waitForWith } from '../support/wait.ts';

const real = realFixturesDir();
const trivyDir = real && existsSync(join(real, 'trivy')) ? join(real, 'trivy') : undefined;
const falcoDir = real && existsSync(join(real, 'falco')) ? join(real, 'falco') : undefined;
const { cp, skip: cpSkip } = trivyDir ? await controlPlaneOrSkip() : { cp: undefined, skip: undefined };
const am: Alertmanager | string = cp ? await alertmanagerOrSkip() : 'no control plane';
after(async () => {
  if (typeof am !== 'string') await am.stop();
  await cp?.stop();
});
const skip =
  !trivyDir || !falcoDir
    ? 'real fixture corpus not found; set ZEN_REAL_FIXTURES'
    : (cpSkip ?? (typeof am === 'string' ? am : undefined));
if (skip && process.env.CI === 'true') throw new Error(`destinations e2e cannot run under CI=true: ${skip}`);

const NS = 'zen-system';
const OUTAGE_S = Number(process.env.ZEN_E2E_OUTAGE_SECONDS ?? 60);
const ZEN = { group: 'zen.kube-zen.io', version: 'v1alpha1' };
const ING = { ...ZEN, plural: 'ingesters' };
const DEST = { ...ZEN, plural: 'destinations' };
const OBS = { ...ZEN, plural: 'observations' };
const VR = { group: 'aquasecurity.github.io', version: 'v1alpha1', plural: 'vulnerabilityreports' };
const CRD = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
const waitFor = waitForWith({ timeoutMs: 60_000, everyMs: 300 });

interface Obs {
  metadata: { name: string; namespace: string };
  spec: { source: string; severity: string; resource?: { name?: string; namespace?: string; kind?: string } };
  status?: { phase?: string; delivered?: Record<string, string> };
}

let api: KubeApi;
let relay: AlertRelay;
const procs = new Map<string, HostProcess>();

function replica(name: string): Promise<HostProcess> {
  return startHostProcess(
    {
      ZEN_MODE: 'kubernetes',
      KUBECONFIG: cp!.kubeconfigPath,
      POD_NAMESPACE: NS,
      POD_NAME: name,
      ZEN_LEADER_ELECTION_ID: 'destinations-e2e',
      ZEN_LEASE_DURATION_SECONDS: '4',
      ZEN_RENEW_DEADLINE_SECONDS: '3',
      ZEN_RETRY_PERIOD_SECONDS: '1',
      ZEN_RESOLVE_AFTER_SECONDS: '1',
      ZEN_KUBE_WRITE_QPS: '500',
      ZEN_KUBE_WRITE_BURST: '1000',
      ZEN_DATA_DIR: tempDir('zw-unused-'),
    },
    60_000,
  ).then((p) => {
    procs.set(name, p);
    return p;
  });
}

async function leader(): Promise<[string, HostProcess] | undefined> {
  for (const [name, p] of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    try {
      const text = await (await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      if (/^zen_watcher_leader\{[^}]*\} 1$/m.test(text)) return [name, p];
    } catch {}
  }
  return undefined;
}

async function metricSum(name: string, match = ''): Promise<number> {
  let n = 0;
  for (const p of procs.values()) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    const text = await (await fetch(`${p.url}/metrics`)).text();
    for (const line of text.split('\n'))
      if (line.startsWith(`${name}{`) && line.includes(match)) n += Number(line.split(' ').at(-1));
  }
  return n;
}

const vrFile = () => listFiles(trivyDir!, /^vulnerabilityreport-docs-replicaset-nginx-2-critical\.ya?ml$/)[0]!;

/** The real report, made acceptable to today's CRD (as trivy-e2e does), optionally keeping only some CVEs. */
function report(keep?: (v: Record<string, unknown>) => boolean): Record<string, unknown> {
  const r = structuredClone(readReports(vrFile())[0]!) as Record<string, unknown> & {
    metadata: Record<string, unknown>;
    report: Record<string, unknown> & { vulnerabilities?: Record<string, unknown>[] };
  };
  delete r.status;
  for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation']) delete r.metadata[k];
  r.report.os ??= {};
  r.report.updateTimestamp ??= '2024-01-01T00:00:00Z';
  for (const v of r.report.vulnerabilities ?? []) {
    v.publishedDate ??= '';
    v.lastModifiedDate ??= '';
    v.title ??= '';
  }
  if (keep) r.report.vulnerabilities = (r.report.vulnerabilities ?? []).filter(keep);
  return r;
}

async function observations(): Promise<Obs[]> {
  return (await api.list<Obs>({ ...OBS })).items;
}

describe('delivery to a real Alertmanager from 3 replicas', { skip }, () => {
  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS, 'default');
    for (const file of listFiles(trivyDir!, /^crd-.*\.ya?ml$/)) {
      const crd = readReports(file)[0] as { metadata: { name: string } };
      await api.patch({
        ...CRD,
        name: crd.metadata.name,
        body: crd,
        type: 'apply',
        fieldManager: 'dest-e2e',
        force: true,
      });
    }
    await waitFor('VulnerabilityReports served', async () => !!(await api.list(VR).catch(() => undefined)));
    const a = am as Alertmanager;
    relay = await new AlertRelay(a.url).up();
    await api.create({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'am-token', namespace: NS },
        stringData: { token: 'tok-1' },
      },
    });
    await api.create({
      ...DEST,
      namespace: NS,
      body: {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Destination',
        metadata: { name: 'alertmanager', namespace: NS },
        spec: {
          type: 'alertmanager',
          url: relay.url,
          delivery: { timeout: '10s', minBackoff: '200ms', maxBackoff: '2s' },
          secretRef: { name: 'am-token' },
          config: { labels: { cluster: 'e2e' }, bearerTokenKey: 'token' },
        },
      },
    });
    const use = [{ type: 'destination', name: 'alertmanager' }];
    const ingesters = [
      { name: 'trivy', spec: { source: 'trivy', ingester: 'informer', destinations: use } },
      {
        name: 'falco',
        spec: { source: 'falco', ingester: 'webhook', webhook: { path: '/ingest/falco' }, destinations: use },
      },
      {
        name: 'webhook',
        spec: { source: 'webhook', ingester: 'webhook', webhook: { path: '/ingest/webhook' }, destinations: use },
      },
    ];
    for (const i of ingesters)
      await api.create({
        ...ING,
        namespace: NS,
        body: {
          apiVersion: 'zen.kube-zen.io/v1alpha1',
          kind: 'Ingester',
          metadata: { name: i.name, namespace: NS },
          spec: i.spec,
        },
      });
    await Promise.all(['dest-a', 'dest-b', 'dest-c'].map(replica));
    await waitFor('a leader', leader);
  });

  after(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop('SIGKILL')));
    await relay?.down();
    await api?.close();
  });

  test('Trivy, Falco and webhook findings become alerts with the right labels', async () => {
    const a = am as Alertmanager;
    await api.create({ ...VR, namespace: 'default', body: report() });
    const [, p] = (await leader())!;
    const falco = readFileSync(join(falcoDir!, 'alert-critical-terminal-shell-docs.json'));
    assert.equal((await post(`${p.url}/ingest/falco`, falco)).status, 200);
    const hook = {
      severity: 'high',
      title: 'bucket public',
      resource: { kind: 'Pod', name: 'web-0', namespace: 'default' },
    };
    assert.equal((await post(`${p.url}/ingest/webhook`, JSON.stringify(hook))).status, 200);

    const obs = await waitFor('Observations of the three sources', async () => {
      const list = await observations();
      const sources = new Set(list.map((o) => o.spec.source));
      return sources.has('trivy') && sources.has('falco') && sources.has('webhook') ? list : undefined;
    });
    const alerts = await waitFor('an alert per Observation', async () => {
      const got = await a.alerts(['cluster="e2e"']);
      return obs.every((o) => got.some((x) => x.labels.observation === o.metadata.name)) ? got : undefined;
    });
    for (const o of obs) {
      const x = alerts.find((al) => al.labels.observation === o.metadata.name)!;
      assert.equal(x.labels.source, o.spec.source);
      assert.equal(x.labels.severity, o.spec.severity);
      assert.equal(x.labels.namespace, o.spec.resource?.namespace ?? o.metadata.namespace);
      if (o.spec.resource?.name) assert.equal(x.labels.resource_name, o.spec.resource.name);
      assert.equal(x.status.state, 'active');
    }
    const trivy = alerts.filter((x) => x.labels.source === 'trivy');
    assert.ok(trivy.length >= 2, `trivy alerts: ${trivy.length}`);
    assert.ok(trivy.every((x) => x.labels.resource_kind === 'ReplicaSet' && x.labels.severity === 'critical'));
    assert.ok(
      relay.authorizations.length > 0 && relay.authorizations.every((x) => x === 'Bearer tok-1'),
      'the bearer token from the Secret',
    );
    await waitFor('status.delivered on every Observation', async () =>
      (await observations()).every((o) => o.status?.delivered?.['zen-system.alertmanager'] === 'F'),
    );
  });

  test('a resolved finding ends its alert', async () => {
    const a = am as Alertmanager;
    const before = (await observations()).filter((o) => o.spec.source === 'trivy');
    // The report is re-scanned with one CVE fewer: that finding resolves (grace 1 s), its alert ends.
    const all = report();
    const firstId = (all.report as { vulnerabilities: { vulnerabilityID: string }[] }).vulnerabilities[0]!
      .vulnerabilityID;
    const name = (all.metadata as { name: string }).name;
    const current = (await api.get({ ...VR, namespace: 'default', name })) as { metadata: { resourceVersion: string } };
    const next = report((v) => v.vulnerabilityID !== firstId);
    (next.metadata as Record<string, unknown>).resourceVersion = current.metadata.resourceVersion;
    await api.patch({ ...VR, namespace: 'default', name, body: next, type: 'merge' });
    const resolved = await waitFor('one trivy Observation Resolved', async () => {
      const list = (await observations()).filter((o) => o.spec.source === 'trivy' && o.status?.phase === 'Resolved');
      return list.length === 1 ? list[0] : undefined;
    });
    assert.ok(before.some((o) => o.metadata.name === resolved.metadata.name));
    await waitFor('its alert is no longer active', async () =>
      (await a.alerts([`observation="${resolved.metadata.name}"`])).length === 0 ? true : undefined,
    );
    const still = (await a.alerts(['source="trivy"'])).map((x) => x.labels.observation);
    assert.ok(still.length >= 1 && !still.includes(resolved.metadata.name), 'the other trivy alerts keep firing');
    await waitFor('status.delivered says resolved', async () => {
      const o = (await api.get({
        ...OBS,
        namespace: resolved.metadata.namespace,
        name: resolved.metadata.name,
      })) as Obs;
      return o.status?.delivered?.['zen-system.alertmanager']?.startsWith('R/');
    });
  });

  test('the Secret rotated: the next sends carry the new token, without a restart', async () => {
    const sentBefore = relay.authorizations.length;
    const [, p] = (await leader())!;
    await api.patch({
      group: '',
      version: 'v1',
      plural: 'secrets',
      namespace: NS,
      name: 'am-token',
      body: { stringData: { token: 'tok-2' } },
    });
    // Findings until a send carries the new token (each one is a send; the Secret watch may lag the patch a little).
    let probe = 0;
    let lastPost = 0;
    await waitFor('a send with the rotated token', async () => {
      if (relay.authorizations.includes('Bearer tok-2')) return true;
      if (Date.now() - lastPost > 2000) {
        lastPost = Date.now();
        const body = JSON.stringify({ severity: 'high', title: `rotation probe ${++probe}` });
        assert.equal((await post(`${p.url}/ingest/webhook`, body)).status, 200);
      }
      return undefined;
    });
    const after = relay.authorizations.slice(sentBefore);
    const first = after.indexOf('Bearer tok-2');
    assert.ok(
      after.slice(first).every((x) => x === 'Bearer tok-2'),
      `after the first new-token send: ${after.join(', ')}`,
    );
  });

  test(`receiver down for ${OUTAGE_S} s and the delivering replica killed -9 meanwhile: 0 missing, duplicates only for lost answers`, async () => {
    const a = am as Alertmanager;
    const resentBefore = await metricSum('zen_watcher_destination_resent_total');
    const [killedName, killed] = (await leader())!;
    const finding = (i: number) =>
      JSON.stringify({ severity: i % 2 ? 'medium' : 'critical', title: `outage finding ${i}`, details: { i } });
    // 1. A send whose answer is lost: Alertmanager takes the alerts in, the sender never hears back (outcome unknown).
    relay.loseAnswers = true;
    for (let i = 0; i < 5; i++) assert.equal((await post(`${killed.url}/ingest/webhook`, finding(i))).status, 200);
    await waitFor('a send Alertmanager accepted but whose answer is held', async () =>
      relay.lostAnswerKeys.size > 0 ? true : undefined,
    );
    // 2. The receiver goes down (connections refused, the held answer cut) ...
    await relay.down();
    relay.loseAnswers = false;
    const outageStart = Date.now();
    // ... findings keep coming through every replica, and the delivering replica is killed with -9 meanwhile.
    const others = () => [...procs].filter(([n]) => n !== killedName).map(([, p]) => p);
    for (let i = 5; i < 30; i++) {
      const p = i < 10 ? killed : others()[i % 2]!;
      assert.equal((await post(`${p.url}/ingest/webhook`, finding(i))).status, 200);
      if (i === 9) {
        await new Promise((r) => setTimeout(r, 3000)); // retries under way on the leader
        killed.child.kill('SIGKILL');
        await new Promise((r) => killed.child.once('exit', r));
      }
    }
    await waitFor('a new leader', async () => {
      const l = await leader();
      return l && l[0] !== killedName ? l : undefined;
    });
    // Status on the new leader: the Destination reports the failing sends.
    await waitFor(
      'Destination Delivering=False while the receiver is down',
      async () => {
        const d = (await api.get({ ...DEST, namespace: NS, name: 'alertmanager' })) as {
          status?: { conditions?: { type: string; status: string; reason: string }[]; backlog?: number };
        };
        return d.status?.conditions?.some((c) => c.type === 'Delivering' && c.status === 'False') ? true : undefined;
      },
      OUTAGE_S * 1000 + 30_000,
    );
    const backlog = await metricSum('zen_watcher_destination_backlog', 'zen-system/alertmanager');
    assert.ok(backlog >= 30, `the backlog holds the outage's findings: ${backlog}`);
    const rest = OUTAGE_S * 1000 - (Date.now() - outageStart);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    await relay.up();

    const obs = await observations();
    const active = obs.filter((o) => o.status?.phase !== 'Resolved');
    const got = await waitFor(
      'every active Observation is an alert',
      async () => {
        const alerts = await a.alerts(['cluster="e2e"']);
        const names = new Set(alerts.map((x) => x.labels.observation));
        return active.every((o) => names.has(o.metadata.name)) ? names : undefined;
      },
      120_000,
    );
    await waitFor('Delivering=True again, backlog 0', async () => {
      const d = (await api.get({ ...DEST, namespace: NS, name: 'alertmanager' })) as {
        status?: { conditions?: { type: string; status: string }[]; backlog?: number };
      };
      return d.status?.conditions?.some((c) => c.type === 'Delivering' && c.status === 'True') && d.status.backlog === 0
        ? true
        : undefined;
    });
    const missing = active.filter((o) => !got.has(o.metadata.name)).length;
    const resent = (await metricSum('zen_watcher_destination_resent_total')) - resentBefore;
    const outage = obs.filter((o) => JSON.stringify(o.spec).includes('outage finding')).length;
    // Duplicates as Alertmanager received them (the relay counts idempotency keys over the whole suite).
    const duplicated = relay.duplicatedKeys();
    const unexplained = duplicated.filter((k) => !relay.lostAnswerKeys.has(k));
    process.stdout.write(
      `# outage ${OUTAGE_S} s + kill -9 of ${killedName}: ${outage} findings written around the outage, ${active.length} active Observations, ${missing} missing in Alertmanager; ` +
        `${relay.lostAnswerKeys.size} alert(s) in a send whose answer was lost; duplicates received by Alertmanager: ${relay.duplicates()} (${duplicated.length} key(s), ${unexplained.length} not from a lost answer); ` +
        `resends counted on the live replicas: ${resent}\n`,
    );
    assert.equal(outage, 30);
    assert.equal(missing, 0);
    assert.deepEqual(unexplained, [], 'duplicates only for sends whose outcome was unknown');
    assert.ok(duplicated.length >= 1, 'the send whose answer was lost was repeated by the new leader');
    assert.ok(relay.duplicates() <= resent, `every duplicate was counted as a resend (${resent})`);
  });

  test('a receiver answering 500 forever: the backlog stays within maxBacklog, the rest given up and counted', async () => {
    const rx = await new Receiver().start();
    rx.failWith = 500;
    try {
      await api.create({
        ...DEST,
        namespace: NS,
        body: {
          apiVersion: 'zen.kube-zen.io/v1alpha1',
          kind: 'Destination',
          metadata: { name: 'bounded', namespace: NS },
          spec: {
            type: 'cloudevents',
            url: rx.url,
            delivery: { maxBacklog: 5, minBackoff: '100ms', maxBackoff: '500ms' },
          },
        },
      });
      await api.create({
        ...ING,
        namespace: NS,
        body: {
          apiVersion: 'zen.kube-zen.io/v1alpha1',
          kind: 'Ingester',
          metadata: { name: 'bounded', namespace: NS },
          spec: {
            source: 'bounded',
            plugin: 'webhook',
            ingester: 'webhook',
            webhook: { path: '/ingest/bounded' },
            destinations: [{ type: 'destination', name: 'bounded' }],
          },
        },
      });
      const [, p] = (await leader())!;
      await waitFor('the bounded route served', async () =>
        (await post(`${p.url}/ingest/bounded`, JSON.stringify({ severity: 'high', title: 'bounded 0' }))).status === 200
          ? true
          : undefined,
      );
      for (let i = 1; i < 20; i++) {
        const r = await post(`${p.url}/ingest/bounded`, JSON.stringify({ severity: 'high', title: `bounded ${i}` }));
        assert.equal(r.status, 200, r.text);
      }
      const written = (await observations()).filter((o) => o.spec.source === 'bounded').length;
      assert.equal(written, 20);
      // One consistent reading: the gauge is measured right after each trim, the counter just before it.
      const [backlog, dropped] = await waitFor('the oldest beyond the bound given up, counted', async () => {
        const n = await metricSum('zen_watcher_destination_dropped_total', 'zen-system/bounded');
        const b = await metricSum('zen_watcher_destination_backlog', 'zen-system/bounded');
        return n >= 15 && b + n === 20 ? ([b, n] as const) : undefined;
      });
      assert.ok(backlog <= 5, `backlog within its bound: ${backlog} (dropped ${dropped})`);
      const d = (await api.get({ ...DEST, namespace: NS, name: 'bounded' })) as { status?: { droppedBefore?: string } };
      assert.ok(d.status?.droppedBefore, 'the watermark is durable in the Destination status');
      // Healed: only what is still in the backlog arrives, once.
      rx.failWith = undefined;
      await waitFor('the backlog delivered', async () => (rx.accepted.size === backlog ? true : undefined));
      const titles = rx.requests
        .filter((r) => r.json && (r.json as { data?: unknown }).data)
        .map((r) => (r.json as { data: { spec: { title: string } } }).data.spec.title);
      assert.ok(titles.includes('bounded 19'), `the newest is kept: ${titles.join(', ')}`);
      assert.ok(!titles.includes('bounded 0'), 'the oldest was given up');
      assert.equal(rx.duplicates(), 0);
    } finally {
      await rx.close();
      await api.delete({ ...ING, namespace: NS, name: 'bounded' }).catch(() => {});
      await api.delete({ ...DEST, namespace: NS, name: 'bounded' }).catch(() => {});
    }
  });

  test('a deleted Destination: its lane stops and no replica keeps reporting its backlog', async () => {
    const series = async () => {
      const out: string[] = [];
      for (const [name, p] of procs) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
        const text = await (await fetch(`${p.url}/metrics`)).text();
        for (const line of text.split('\n'))
          if (/^zen_watcher_destination_(backlog|oldest_undelivered_age_seconds|up)\{/.test(line))
            if (line.includes('destination="zen-system/alertmanager"')) out.push(`${name}: ${line}`);
      }
      return out;
    };
    const [leaderName] = (await leader())!;
    const before = await series();
    assert.ok(before.length === 3 && before.every((l) => l.startsWith(`${leaderName}:`)), before.join('\n'));
    await api.delete({ ...DEST, namespace: NS, name: 'alertmanager' });
    await waitFor('the gauges are gone from every replica', async () =>
      (await series()).length === 0 ? true : undefined,
    );
  });
});
