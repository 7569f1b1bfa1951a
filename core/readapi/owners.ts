/**
 * Owners as the sources name them. Sources report findings about whatever object they scanned: Trivy about a
 * ReplicaSet (`payments-7d9f8b6c5`), Falco about a Pod (`payments-7d9f8b6c5-x2x9q`), Kyverno about the Deployment
 * (`payments`). The names the controllers generate carry the chain, so it is recovered without asking the API
 * server (which the read API never does per request):
 *
 *   Pod `<rs>-<5 chars>` whose `<rs>` is `<deployment>-<pod-template-hash>` → ReplicaSet `<rs>` → Deployment
 *   ReplicaSet `<deployment>-<pod-template-hash>` → Deployment
 *   Job `<cronjob>-<scheduled minutes>` → CronJob;  Pod `<job>-<5 chars>` of such a Job → Job → CronJob
 *
 * The generated suffixes use Kubernetes' safe alphabet (no vowels, no 0/1/3), which rules out most ordinary
 * words; a StatefulSet's or DaemonSet's Pod is left alone (its owner kind cannot be told from the name).
 */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const HASH = new RegExp(`^(.+)-(${SAFE}{6,10})$`);
const POD_OF_RS = new RegExp(`^((.+)-${SAFE}{6,10})-${SAFE}{5}$`);
const JOB_OF_CRON = /^(.+)-(\d{8,10})$/;
const POD_OF_CRON_JOB = new RegExp(`^((.+)-\\d{8,10})-${SAFE}{5}$`);

export function resourceKey(e: {
  namespace: string;
  resource?: { kind?: string; name?: string; namespace?: string } | undefined;
}): ResourceKey {
  return {
    kind: e.resource?.kind || 'Unknown',
    namespace: e.resource?.namespace || e.namespace,
    name: e.resource?.name ?? '',
  };
}

/** The object itself first, then its owners as far as the name tells. */
export function ownerChain(r: ResourceKey): ResourceKey[] {
  const out: ResourceKey[] = [r];
  const ns = r.namespace;
  const kind = r.kind.toLowerCase();
  if (kind === 'pod') {
    const cron = POD_OF_CRON_JOB.exec(r.name);
    if (cron) {
      out.push({ kind: 'Job', namespace: ns, name: cron[1]! }, { kind: 'CronJob', namespace: ns, name: cron[2]! });
      return out;
    }
    const m = POD_OF_RS.exec(r.name);
    if (m)
      out.push({ kind: 'ReplicaSet', namespace: ns, name: m[1]! }, { kind: 'Deployment', namespace: ns, name: m[2]! });
  } else if (kind === 'replicaset') {
    const m = HASH.exec(r.name);
    if (m) out.push({ kind: 'Deployment', namespace: ns, name: m[1]! });
  } else if (kind === 'job') {
    const m = JOB_OF_CRON.exec(r.name);
    if (m) out.push({ kind: 'CronJob', namespace: ns, name: m[1]! });
  }
  return out;
}
