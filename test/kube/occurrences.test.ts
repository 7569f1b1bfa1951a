/**
 * Occurrence counts on the real control plane (issue #15): 5,000 repeats of one Falco alert, spread over three
 * replicas, give one Observation with status.count 5,000 written in a bounded number of status writes (counted by
 * the replicas and, independently, by a watch on the API server: one event per applied write); repeats
 * a replica holds when it stops are flushed on shutdown, and a replica started afterwards keeps counting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeApi } from '../../core/kube/api.ts';
import { KubeConnection, resourcePath, watchOnce } from '../../core/kube/index.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { type HostProcess, post, runCli } from '../support/host.ts';
import { type KubeReplicas, kubeReplicas, OBS } from '../support/kube-replicas.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-occ';
const FLUSH_S = 1;

interface Obs {
  metadata: { name: string };
  spec: { detectedAt: string; severity: string };
  status?: { count?: number; firstSeen?: string; lastSeen?: string; phase?: string };
}

/** Sum of one metric series over replicas, read from their /metrics. */
async function metric(procs: HostProcess[], series: string): Promise<number> {
  let sum = 0;
  for (const p of procs) {
    const text = await (await fetch(`${p.url}/metrics`)).text();
    for (const line of text.split('\n')) if (line.startsWith(`${series} `)) sum += Number(line.split(' ')[1]);
  }
  return sum;
}

/**
 * Counts what the API server applies to the falco Observations from now on, as a watch sees it (one event per write
 * that changed an object): independent of what the replicas say they wrote.
 */
async function serverWrites(api: KubeApi) {
  const kc = new KubeConfig();
  kc.loadFromFile(cp!.kubeconfigPath);
  const conn = new KubeConnection(kc);
  const labelSelector = 'source=falco';
  const from = (await api.list({ ...OBS, labelSelector })).metadata.resourceVersion ?? '';
  const seen = { ADDED: 0, MODIFIED: 0, DELETED: 0, count: 0 };
  const ctl = new AbortController();
  const watching = watchOnce({
    conn,
    path: resourcePath({ group: OBS.group, version: OBS.version, resource: OBS.plural }),
    resourceVersion: from,
    labelSelector,
    timeoutSeconds: 600,
    stallTimeoutMs: 600_000,
    signal: ctl.signal,
    onEvent: (type, obj) => {
      seen[type]++;
      seen.count = (obj as Obs).status?.count ?? 1;
    },
  });
  return {
    seen,
    stop: async () => {
      ctl.abort();
      await watching.catch(() => {});
      await conn.close();
    },
  };
}

describe('occurrence counts, three replicas', { skip }, () => {
  let kube: KubeReplicas;
  let api: KubeApi;
  let procs: HostProcess[] = [];
  const at = new Date(Date.now() - 1000).toISOString();
  const alert = JSON.stringify({
    output: 'A shell was spawned in a container (user=root container=web)',
    priority: 'Notice',
    rule: 'Terminal shell in container',
    time: at,
    source: 'syscall',
    hostname: 'node-1',
    output_fields: { 'container.id': 'abc123', 'proc.name': 'bash', 'k8s.ns.name': 'default', 'k8s.pod.name': 'web' },
  });
  const falco = async (p: HostProcess, n: number) => {
    const res = await post(`${p.url}/ingest/falco`, Array(n).fill(alert).join('\n'), {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(res.status, 200, res.text);
  };
  const observations = async () => (await api.list<Obs>({ ...OBS, labelSelector: 'source=falco' })).items;

  before(async () => {
    kube = await kubeReplicas(cp!, {
      namespace: NS,
      electionId: 'occurrences',
      route: '/ingest/falco',
      env: {
        ZEN_OCCURRENCE_FLUSH_SECONDS: String(FLUSH_S),
        ZEN_KUBE_WRITE_QPS: '200',
        ZEN_KUBE_WRITE_BURST: '400',
      },
    });
    api = kube.api;
    await kube.ingester('falco', { source: 'falco', ingester: 'webhook', webhook: { path: '/ingest/falco' } });
    procs = await kube.startAll(['occ-a', 'occ-b', 'occ-c']);
  });
  after(async () => kube?.close());

  test('5,000 repeats over 3 replicas → one Observation, count 5,000, bounded status writes', async () => {
    const server = await serverWrites(api);
    const began = Date.now();
    // 100 batches of 50 identical alerts, round-robin over the replicas, 6 requests at a time.
    const batches = Array.from({ length: 100 }, (_, i) => i);
    const workers = Array.from({ length: 6 }, async () => {
      for (let i = batches.shift(); i !== undefined; i = batches.shift()) await falco(procs[i % 3]!, 50);
    });
    await Promise.all(workers);
    await waitFor(
      'status.count to reach 5000',
      async () => {
        const items = await observations();
        return items.length === 1 && items[0]!.status?.count === 5000;
      },
      60_000,
    );
    const elapsedS = (Date.now() - began) / 1000;
    await waitFor('the watch sees count 5000', async () => server.seen.count === 5000, 30_000);
    await server.stop();
    const [o] = await observations();
    assert.equal(o!.status!.firstSeen, at);
    assert.equal(o!.status!.lastSeen, at);
    assert.equal(o!.status!.phase, 'Active', 'the API server defaults the phase');
    const applied = await metric(procs, 'zen_watcher_occurrence_writes_total{outcome="applied"}');
    const conflicts = await metric(procs, 'zen_watcher_occurrence_writes_total{outcome="conflict"}');
    const created = await metric(procs, 'zen_watcher_observations_created_total{source="falco"}');
    const lost = await metric(procs, 'zen_watcher_occurrences_lost_total{reason="gone"}');
    console.log(
      `5000 repeats over 3 replicas in ${elapsedS.toFixed(1)} s: 1 create, ${applied} status writes applied, ` +
        `${conflicts} conflicts retried (flush interval ${FLUSH_S} s); the API server applied ` +
        `${server.seen.ADDED} create + ${server.seen.MODIFIED} updates (watch events)`,
    );
    assert.deepEqual([server.seen.ADDED, server.seen.MODIFIED, server.seen.DELETED], [1, applied, 0]);
    assert.equal(created, 1);
    assert.equal(lost, 0);
    // At most one write per replica per flush interval (+1 for the final partial interval each).
    assert.ok(applied >= 1);
    assert.ok(applied <= 3 * (Math.ceil(elapsedS / FLUSH_S) + 1), `${applied} writes in ${elapsedS} s`);
  });

  test('a replica stopping flushes its pending repeats; a new replica keeps counting', async () => {
    const before = (await observations())[0]!.status!.count!;
    await falco(procs[0]!, 7);
    // SIGTERM before the flush interval has passed: the shutdown writes the 7 pending repeats.
    assert.equal(await procs[0]!.stop(), 0);
    let items = await observations();
    assert.equal(items[0]!.status!.count, before + 7);
    procs[0] = await kube.start('occ-d'); // returns once it serves /ingest/falco
    // Its memory is empty: the create answers AlreadyExists, which is a repeat too.
    await falco(procs[0]!, 3);
    await waitFor('count + 3', async () => (await observations())[0]!.status!.count === before + 10, 30_000);
    items = await observations();
    assert.equal(items.length, 1);
  });

  test("`zen-watcher observations list` in Kubernetes mode: the cluster's Observations, with phase and count", async () => {
    const env = { ZEN_MODE: 'kubernetes', KUBECONFIG: cp!.kubeconfigPath };
    const [o] = await observations();
    const table = await runCli(['observations', 'list', '--source', 'falco'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /NAMESPACE\s+NAME\s+SOURCE\s+SEVERITY\s+CATEGORY\s+TYPE\s+TITLE\s+PHASE\s+COUNT\s+LAST SEEN/,
    );
    const json = await runCli(['observations', 'list', '--source', 'falco', '-o', 'json'], env);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as { name: string; status?: { count?: number; phase?: string } }[];
    assert.deepEqual(
      rows.map((r) => [r.name, r.status?.phase, r.status?.count]),
      [[o!.metadata.name, 'Active', o!.status!.count]],
    );
    assert.match(table.stdout, new RegExp(`${o!.metadata.name}\\s.*\\sActive\\s+${o!.status!.count}\\s`));
    const none = await runCli(['observations', 'list', '--source', 'trivy', '-o', 'json'], env);
    assert.deepEqual(JSON.parse(none.stdout), []);
    // --severity filters the same way (the severity label), alone and with --source.
    const names = async (...args: string[]) => {
      const r = await runCli(['observations', 'list', ...args, '-o', 'json'], env);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name);
    };
    const other = o!.spec.severity === 'critical' ? 'info' : 'critical';
    assert.deepEqual(await names('--severity', o!.spec.severity), [o!.metadata.name]);
    assert.deepEqual(await names('--source', 'falco', '--severity', o!.spec.severity), [o!.metadata.name]);
    assert.deepEqual(await names('--source', 'falco', '--severity', other), []);
  });
});
