/**
 * Baseline for the informer path (and for RSS while watching reports): the minimal controller one would write
 * with plain @kubernetes/client-node — `makeInformer` on VulnerabilityReports and, with --write, a create loop
 * (16 concurrent) writing one Observation per vulnerability of every added report. No dedup, no resolution, no
 * leader election. Prints `{"seen":N,"created":M}` on stdout every 100 ms.
 *
 *   node test/bench/plain-controller.ts --kubeconfig FILE [--namespace NS] [--write]
 */
import { parseArgs } from 'node:util';
import { CustomObjectsApi, KubeConfig, type KubernetesObject, makeInformer } from '@kubernetes/client-node';
import { OBS, observationBody, VULN } from './lib/kube.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});
const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig!);
const api = kc.makeApiClient(CustomObjectsApi);
const ns = values.namespace;
const path = `/apis/${VULN.group}/${VULN.version}${ns ? `/namespaces/${ns}` : ''}/${VULN.plural}`;
const list = () =>
  (ns
    ? api.listNamespacedCustomObject({ ...VULN, namespace: ns })
    : api.listClusterCustomObject({ ...VULN })) as Promise<{ items: KubernetesObject[] }>;

type Report = KubernetesObject & { report?: { vulnerabilities?: unknown[] } };
const informer = makeInformer<Report>(kc, path, list as never);
const queue: { namespace: string; i: number }[] = [];
let seen = 0;
let created = 0;
let next = 0;
let waiting: (() => void)[] = [];

informer.on('add', (r) => {
  seen++;
  if (!values.write) return;
  for (const _ of r.report?.vulnerabilities ?? []) queue.push({ namespace: r.metadata!.namespace!, i: next++ });
  for (const w of waiting) w();
  waiting = [];
});
informer.on('error', () => setTimeout(() => void informer.start(), 1000));

async function worker() {
  for (;;) {
    const job = queue.shift();
    if (!job) {
      await new Promise<void>((r) => waiting.push(r));
      continue;
    }
    for (;;) {
      try {
        await api.createNamespacedCustomObject({
          ...OBS,
          namespace: job.namespace,
          body: observationBody(job.namespace, job.i, 'plain'),
        });
        created++;
        break;
      } catch (err) {
        if ((err as { code?: number }).code === 409) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

await informer.start();
for (let w = 0; w < 16; w++) void worker();
setInterval(() => process.stdout.write(`${JSON.stringify({ seen, created })}\n`), 100);
