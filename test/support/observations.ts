/**
 * Observations made by hand, shaped as the pipeline writes them, for tests and benchmarks of the read side: a
 * realistic mix of sources naming the same workloads the way the real tools do (Trivy a ReplicaSet, Falco a Pod,
 * Kyverno the Deployment, audit the Deployment through the API), several namespaces, severities and ages.
 */
import { createHash } from 'node:crypto';
import type { Observation, Severity } from '../../core/api/index.ts';

export interface ObsInput {
  source: string;
  severity: Severity;
  title: string;
  namespace: string;
  resource?: { kind: string; name: string; apiVersion?: string };
  message?: string;
  eventType?: string;
  category?: Observation['spec']['category'];
  detectedAt: Date;
  details?: Record<string, unknown>;
  fingerprint?: string;
}

export function makeObservation(i: ObsInput): Observation {
  const fingerprint =
    i.fingerprint ??
    createHash('sha256').update(`${i.source}|${i.namespace}|${i.title}|${i.resource?.name}`).digest('hex');
  const name = `${i.source}-${createHash('sha256').update(fingerprint).digest('hex').slice(0, 16)}`;
  const at = i.detectedAt.toISOString();
  return {
    name,
    namespace: i.namespace,
    labels: {
      source: i.source,
      severity: i.severity,
      category: i.category ?? 'security',
      'app.kubernetes.io/managed-by': 'zen-watcher',
      'zen.kube-zen.io/ingester': i.source,
      'zen.kube-zen.io/ingester-namespace': 'zen-system',
    },
    annotations: { 'zen.kube-zen.io/first-seen': at },
    spec: {
      source: i.source,
      category: i.category ?? 'security',
      severity: i.severity,
      eventType: i.eventType ?? 'vulnerability',
      title: i.title,
      ...(i.message ? { message: i.message } : {}),
      ...(i.resource ? { resource: { ...i.resource, namespace: i.namespace } } : {}),
      ...(i.details ? { details: i.details } : {}),
      fingerprint,
      detectedAt: at,
      ttlSecondsAfterCreation: 7 * 86_400,
    },
  };
}

/** The Observation as the custom resource to create (what the Kubernetes sink sends). */
export function observationObject(o: Observation) {
  return {
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Observation',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels, annotations: o.annotations },
    spec: o.spec,
  };
}

const SEVS: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
const APPS = ['payments', 'checkout', 'catalog', 'search', 'auth', 'frontend', 'ledger', 'mailer'];
const NAMESPACES = ['shop', 'platform', 'data', 'edge'];

/** The fixed demo set behind the browser tests and screenshots (deterministic: no randomness). */
export function demoObservations(now = Date.now()): Observation[] {
  const out: Observation[] = [];
  const hour = 3_600_000;
  // One workload with findings from three sources, each naming it as that tool does.
  out.push(
    makeObservation({
      source: 'trivy',
      severity: 'critical',
      title: 'CVE-2024-45337: golang.org/x/crypto/ssh misuse of ServerConfig.PublicKeyCallback',
      namespace: 'shop',
      resource: { kind: 'ReplicaSet', name: 'payments-7d9f8b6c5', apiVersion: 'apps/v1' },
      message: 'golang.org/x/crypto v0.30.0 → fixed in 0.31.0 (image ghcr.io/example/payments:1.4.2)',
      detectedAt: new Date(now - 5 * hour),
      details: {
        vulnerabilityID: 'CVE-2024-45337',
        resource: 'golang.org/x/crypto',
        installedVersion: 'v0.30.0',
        fixedVersion: '0.31.0',
        score: 9.1,
      },
    }),
    makeObservation({
      source: 'falco',
      severity: 'high',
      eventType: 'runtime_alert',
      title: 'Terminal shell in container',
      namespace: 'shop',
      resource: { kind: 'Pod', name: 'payments-7d9f8b6c5-x2x9q' },
      message: 'A shell was spawned in a container with an attached terminal (user=root shell=bash container=payments)',
      detectedAt: new Date(now - 2 * hour),
      details: { rule: 'Terminal shell in container', priority: 'Notice', 'proc.cmdline': 'bash' },
    }),
    makeObservation({
      source: 'kyverno',
      severity: 'medium',
      eventType: 'policy_violation',
      category: 'compliance',
      title: 'require-run-as-nonroot: validation failure',
      namespace: 'shop',
      resource: { kind: 'Deployment', name: 'payments', apiVersion: 'apps/v1' },
      message:
        'Running as root is not allowed. spec.template.spec.containers[0].securityContext.runAsNonRoot must be true',
      detectedAt: new Date(now - 7 * hour),
      details: { policy: 'require-run-as-nonroot', rule: 'run-as-non-root', result: 'fail' },
    }),
  );
  // A spread over namespaces, apps, sources and the last 24 hours.
  let n = 0;
  for (let h = 0; h < 24; h++) {
    for (let k = 0; k < 3 + (h % 4); k++) {
      n++;
      const app = APPS[n % APPS.length]!;
      const ns = NAMESPACES[(n + 1) % NAMESPACES.length]!;
      const sev = SEVS[(n * 3 + Math.floor(n / 5) + (n % 7 === 0 ? 1 : 0)) % 5]!;
      const src = ['trivy', 'kyverno', 'falco', 'audit', 'webhook'][n % 5]!;
      const resource =
        src === 'trivy'
          ? { kind: 'ReplicaSet', name: `${app}-5c4f8d9b7` }
          : src === 'falco'
            ? { kind: 'Pod', name: `${app}-5c4f8d9b7-q${'bcdfg'[n % 5]}z4k` }
            : { kind: 'Deployment', name: app };
      out.push(
        makeObservation({
          source: src,
          severity: sev,
          title: `${src === 'trivy' ? `CVE-2025-${1000 + n}` : src === 'kyverno' ? `disallow-latest-tag #${n}` : src === 'falco' ? `Read sensitive file untrusted #${n}` : src === 'audit' ? `Secret read by unexpected user #${n}` : `Custom alert #${n}`} in ${app}`,
          namespace: ns,
          resource,
          detectedAt: new Date(now - h * hour - k * 60_000),
          eventType: src === 'trivy' ? 'vulnerability' : src === 'falco' ? 'runtime_alert' : 'policy_violation',
        }),
      );
    }
  }
  return out;
}

/** A small Observation as the standalone store's tests write it (core/sinks). */
export const storeObservation = (
  name: string,
  detectedAt = new Date().toISOString(),
  firstSeen = new Date().toISOString(),
  labels: Record<string, string> = {},
): Observation => ({
  name,
  namespace: 'ns',
  labels,
  annotations: { 'zen.kube-zen.io/first-seen': firstSeen },
  spec: {
    source: 's',
    category: 'security',
    severity: 'high',
    eventType: 'e',
    title: name,
    fingerprint: 'f'.repeat(64),
    detectedAt,
    ttlSecondsAfterCreation: 60,
  },
});
