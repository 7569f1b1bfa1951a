/**
 * What the plugin must make of each real Trivy report fixture (../shared/fixtures/real/trivy, read in place, never
 * copied), with every report kind enabled and the default filters. One entry per report in the file; one finding
 * per Observation, in report order. A fixture without an entry here fails the suite, so a new fixture cannot be
 * silently ignored. Where a report's `report.summary` describes the listed findings (all but the cut-down envtest
 * coredns report and the old config-audit docs sample), the per-severity counts here agree with it.
 */
import type { ResourceRef } from 'zen-watcher/plugin-api';
import { checkFingerprint, secretFingerprint, vulnFingerprint } from './helpers.ts';

export interface ExpectedFinding {
  fingerprint: string;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  title: string;
}

export interface ExpectedReport {
  kind: string;
  /** The workload: Observation spec.resource. */
  resource: ResourceRef;
  /** Where the Observations are written (resource namespace, else the Ingester's). */
  namespace: string;
  identity: 'ownerReference' | 'labels' | 'name-hash' | 'legacy-labels' | 'report';
  scope: string;
  findings: ExpectedFinding[];
  /** Findings in the report that must NOT become Observations, by reason. */
  skipped?: Record<string, number>;
}

type Sev = ExpectedFinding['severity'];

function vulns(workloadKey: string, container: string, rows: [string, string, string, Sev][]): ExpectedFinding[] {
  return rows.map(([id, pkg, installed, severity]) => ({
    fingerprint: vulnFingerprint(workloadKey, container, id, pkg, installed),
    severity,
    title: `${id} in ${pkg} ${installed} (${container})`,
  }));
}

const NGINX_RS: ResourceRef = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'nginx-6d4cf56db6',
  namespace: 'default',
};
const COREDNS_RS: ResourceRef = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'coredns-558bd4d5db',
  namespace: 'kube-system',
};

export const REAL_EXPECTED: Readonly<Record<string, readonly ExpectedReport[]>> = {
  // Cluster-scoped (k8s components): owner ClusterSbomReport, namespace label "", comma-separated fixedVersion lists.
  'clustervulnerabilityreport-docs-k8s-cluster.yaml': [
    {
      kind: 'ClusterVulnerabilityReport',
      resource: { apiVersion: 'aquasecurity.github.io/v1alpha1', kind: 'ClusterSbomReport', name: '584b5cdcd5' },
      namespace: 'zen-system',
      identity: 'ownerReference',
      scope: 'ClusterVulnerabilityReport/clustersbomreport//584b5cdcd5/k8s-cluster',
      findings: vulns('clustersbomreport//584b5cdcd5', 'k8s-cluster', [
        ['CVE-2021-43816', 'github.com/containerd/containerd', '1.5.2', 'high'],
        ['CVE-2022-23648', 'github.com/containerd/containerd', '1.5.2', 'high'],
        ['CVE-2021-32760', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['CVE-2021-41103', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['CVE-2022-23471', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['CVE-2022-31030', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['CVE-2023-25153', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['CVE-2023-25173', 'github.com/containerd/containerd', '1.5.2', 'medium'],
        ['GHSA-5j5w-g665-5m35', 'github.com/containerd/containerd', '1.5.2', 'low'],
        ['CVE-2022-3162', 'k8s.io/apiserver', '1.21.1', 'medium'],
        ['CVE-2023-2727', 'k8s.io/apiserver', '1.21.1', 'medium'],
        ['CVE-2023-2728', 'k8s.io/apiserver', '1.21.1', 'medium'],
        ['CVE-2021-25741', 'k8s.io/kubelet', '1.21.1', 'high'],
        ['CVE-2021-25749', 'k8s.io/kubelet', '1.21.1', 'high'],
        ['CVE-2023-2431', 'k8s.io/kubelet', '1.21.1', 'low'],
      ]),
    },
  ],
  // Old docs sample: 3 passing checks (success: true) give nothing; 2 failing checks scoped to container nginx.
  'configauditreport-docs-replicaset-nginx.yaml': [
    {
      kind: 'ConfigAuditReport',
      resource: NGINX_RS,
      namespace: 'default',
      identity: 'ownerReference',
      scope: 'ConfigAuditReport/replicaset/default/nginx-6d4cf56db6/',
      skipped: { passed_check: 3 },
      findings: [
        {
          fingerprint: checkFingerprint(
            'replicaset/default/nginx-6d4cf56db6',
            'notReadOnlyRootFilesystem',
            'Container',
            'nginx',
          ),
          severity: 'low',
          title:
            'notReadOnlyRootFilesystem: Filesystem should be read only (ReplicaSet nginx-6d4cf56db6, container nginx)',
        },
        {
          fingerprint: checkFingerprint(
            'replicaset/default/nginx-6d4cf56db6',
            'privilegeEscalationAllowed',
            'Container',
            'nginx',
          ),
          severity: 'critical',
          title:
            'privilegeEscalationAllowed: Privilege escalation should not be allowed (ReplicaSet nginx-6d4cf56db6, container nginx)',
        },
      ],
    },
  ],
  // Envtest expectation with placeholders (<HASH>, ownerReference uid: null, scanner version "version"): 13 KSV checks.
  'configauditreport-pod-envtest-expected.yaml': [
    {
      kind: 'ConfigAuditReport',
      resource: { apiVersion: 'v1', kind: 'Pod', name: 'my-pod', namespace: 'default' },
      namespace: 'default',
      identity: 'ownerReference',
      scope: 'ConfigAuditReport/pod/default/my-pod/',
      findings: (
        [
          ['KSV001', 'medium', 'Can elevate its own privileges'],
          ['KSV003', 'low', 'Default capabilities: some containers do not drop all'],
          ['KSV011', 'low', 'CPU not limited'],
          ['KSV012', 'medium', 'Runs as root user'],
          ['KSV014', 'high', 'Root file system is not read-only'],
          ['KSV015', 'low', 'CPU requests not specified'],
          ['KSV016', 'low', 'Memory requests not specified'],
          ['KSV018', 'low', 'Memory not limited'],
          ['KSV020', 'low', 'Runs with UID <= 10000'],
          ['KSV021', 'low', 'Runs with GID <= 10000'],
          ['KSV030', 'low', 'Runtime/Default Seccomp profile not set'],
          ['KSV104', 'medium', 'Seccomp policies disabled'],
          ['KSV106', 'low', 'Container capabilities must only include NET_BIND_SERVICE'],
        ] as [string, Sev, string][]
      ).map(([id, severity, title]) => ({
        fingerprint: checkFingerprint('pod/default/my-pod', id),
        severity,
        title: `${id}: ${title} (Pod my-pod)`,
      })),
    },
  ],
  // Two Stripe findings with the same rule and file: told apart by the (redacted) matched line.
  'exposedsecretreport-docs-replicaset-app.yaml': [
    {
      kind: 'ExposedSecretReport',
      resource: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'app-67b77f5965', namespace: 'default' },
      namespace: 'default',
      identity: 'ownerReference',
      scope: 'ExposedSecretReport/replicaset/default/app-67b77f5965/app',
      findings: ['publishable_key: *****', 'secret_key: *****'].map((match) => ({
        fingerprint: secretFingerprint(
          'replicaset/default/app-67b77f5965',
          'app',
          'stripe-access-token',
          '/app/config/secret.yaml',
          match,
        ),
        severity: 'high' as const,
        title: 'Exposed secret Stripe in /app/config/secret.yaml (app)',
      })),
    },
  ],
  // Docs sample: 2 CRITICAL, one with fixedVersion '' and one with title ''; no updateTimestamp.
  'vulnerabilityreport-docs-replicaset-nginx-2-critical.yaml': [
    {
      kind: 'VulnerabilityReport',
      resource: NGINX_RS,
      namespace: 'default',
      identity: 'ownerReference',
      scope: 'VulnerabilityReport/replicaset/default/nginx-6d4cf56db6/nginx',
      findings: vulns('replicaset/default/nginx-6d4cf56db6', 'nginx', [
        ['CVE-2019-20367', 'libbsd0', '0.9.1-2', 'critical'],
        ['CVE-2018-25009', 'libwebp6', '0.6.1-2', 'critical'],
      ]),
    },
  ],
  // Current envtest fixture: the coredns report cut to one HIGH finding.
  'vulnerabilityreport-replicaset-coredns-1-vuln-envtest-current.yaml': [
    {
      kind: 'VulnerabilityReport',
      resource: COREDNS_RS,
      namespace: 'kube-system',
      identity: 'ownerReference',
      scope: 'VulnerabilityReport/replicaset/kube-system/coredns-558bd4d5db/coredns',
      findings: vulns('replicaset/kube-system/coredns-558bd4d5db', 'coredns', [
        ['CVE-2021-3121', 'github.com/gogo/protobuf', 'v1.3.1', 'high'],
      ]),
    },
  ],
  // Trivy 0.35.0 scan: no os / publishedDate (today's CRD would refuse it), GHSA entries with title '' and no score.
  'vulnerabilityreport-replicaset-coredns-27-vulns.yaml': [
    {
      kind: 'VulnerabilityReport',
      resource: COREDNS_RS,
      namespace: 'kube-system',
      identity: 'ownerReference',
      scope: 'VulnerabilityReport/replicaset/kube-system/coredns-558bd4d5db/coredns',
      findings: vulns('replicaset/kube-system/coredns-558bd4d5db', 'coredns', [
        ['CVE-2021-3121', 'github.com/gogo/protobuf', 'v1.3.1', 'high'],
        ['GHSA-c3h9-896r-86jm', 'github.com/gogo/protobuf', 'v1.3.1', 'info'],
        ['CVE-2022-21698', 'github.com/prometheus/client_golang', 'v1.8.0', 'high'],
        ['GHSA-cg3q-j54f-5p7p', 'github.com/prometheus/client_golang', 'v1.8.0', 'info'],
        ['CVE-2018-1098', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'high'],
        ['CVE-2020-15115', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'high'],
        ['CVE-2018-1099', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'medium'],
        ['CVE-2020-15106', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'medium'],
        ['CVE-2020-15112', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'medium'],
        ['GHSA-528j-9r78-wffx', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'info'],
        ['GHSA-9gp7-6833-wv89', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'info'],
        ['GHSA-h8g9-6gvh-5mrc', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'info'],
        ['GHSA-m332-53r6-2w93', 'go.etcd.io/etcd', 'v0.5.0-alpha.5.0.20200306183522-221f0cc107cb', 'info'],
        ['CVE-2020-29652', 'golang.org/x/crypto', 'v0.0.0-20201002170205-7f63de1d35b0', 'high'],
        ['CVE-2021-43565', 'golang.org/x/crypto', 'v0.0.0-20201002170205-7f63de1d35b0', 'high'],
        ['CVE-2022-27191', 'golang.org/x/crypto', 'v0.0.0-20201002170205-7f63de1d35b0', 'high'],
        ['GHSA-8c26-wmh5-6g9v', 'golang.org/x/crypto', 'v0.0.0-20201002170205-7f63de1d35b0', 'info'],
        ['GHSA-gwc9-m7rh-j2ww', 'golang.org/x/crypto', 'v0.0.0-20201002170205-7f63de1d35b0', 'info'],
        ['CVE-2021-33194', 'golang.org/x/net', 'v0.0.0-20200707034311-ab3426394381', 'high'],
        ['CVE-2021-44716', 'golang.org/x/net', 'v0.0.0-20200707034311-ab3426394381', 'high'],
        ['CVE-2022-27664', 'golang.org/x/net', 'v0.0.0-20200707034311-ab3426394381', 'high'],
        ['CVE-2021-31525', 'golang.org/x/net', 'v0.0.0-20200707034311-ab3426394381', 'medium'],
        ['CVE-2022-29526', 'golang.org/x/sys', 'v0.0.0-20201015000850-e3ed0017c211', 'medium'],
        ['CVE-2021-38561', 'golang.org/x/text', 'v0.3.3', 'high'],
        ['CVE-2022-32149', 'golang.org/x/text', 'v0.3.3', 'high'],
        ['GHSA-69ch-w2m2-3vjp', 'golang.org/x/text', 'v0.3.3', 'info'],
        ['CVE-2020-8565', 'k8s.io/client-go', 'v0.19.2', 'medium'],
      ]),
    },
  ],
  // 2021 List from an older Trivy-based scanner (Trivy 0.16.0): imgvuln.* labels, Pod owner. The same CVE on two
  // packages (libcrypto1.1 / libssl1.1) is two findings.
  'vulnerabilityreportlist-legacy-imgvuln-labels-zipkin.yaml': [
    {
      kind: 'VulnerabilityReport',
      resource: { apiVersion: 'v1', kind: 'Pod', name: 'zipkin-6b59cc5ddb-bp9h8', namespace: 'default' },
      namespace: 'default',
      identity: 'ownerReference',
      scope: 'VulnerabilityReport/pod/default/zipkin-6b59cc5ddb-bp9h8/zipkin',
      findings: vulns('pod/default/zipkin-6b59cc5ddb-bp9h8', 'zipkin', [
        ['CVE-2021-30139', 'apk-tools', '2.10.5-r1', 'high'],
        ['CVE-2021-36159', 'apk-tools', '2.10.5-r1', 'info'],
        ['CVE-2021-28831', 'busybox', '1.31.1-r19', 'high'],
        ['CVE-2021-23840', 'libcrypto1.1', '1.1.1i-r0', 'high'],
        ['CVE-2021-3450', 'libcrypto1.1', '1.1.1i-r0', 'high'],
        ['CVE-2021-23841', 'libcrypto1.1', '1.1.1i-r0', 'medium'],
        ['CVE-2021-3449', 'libcrypto1.1', '1.1.1i-r0', 'medium'],
        ['CVE-2021-23839', 'libcrypto1.1', '1.1.1i-r0', 'low'],
        ['CVE-2021-23840', 'libssl1.1', '1.1.1i-r0', 'high'],
        ['CVE-2021-3450', 'libssl1.1', '1.1.1i-r0', 'high'],
        ['CVE-2021-23841', 'libssl1.1', '1.1.1i-r0', 'medium'],
        ['CVE-2021-3449', 'libssl1.1', '1.1.1i-r0', 'medium'],
        ['CVE-2021-23839', 'libssl1.1', '1.1.1i-r0', 'low'],
        ['CVE-2021-28831', 'ssl_client', '1.31.1-r19', 'high'],
      ]),
    },
  ],
};

/** Golden names, pinned literally: a change of the identity or of the host's naming shows up here first. */
export const GOLDEN_NAMES: Readonly<Record<string, string>> = {
  // nginx docs VulnerabilityReport: CVE-2019-20367 on libbsd0 0.9.1-2, container nginx.
  'vulnerabilityreport-docs-replicaset-nginx-2-critical.yaml': 'trivy-0349edbadcfc682b',
  // coredns: CVE-2021-3121 on github.com/gogo/protobuf v1.3.1 — the same name from the 1-finding and 27-finding report.
  'vulnerabilityreport-replicaset-coredns-1-vuln-envtest-current.yaml': 'trivy-667167ec958871cb',
  'vulnerabilityreport-replicaset-coredns-27-vulns.yaml': 'trivy-667167ec958871cb',
  // exposed secret: stripe-access-token, /app/config/secret.yaml, 'secret_key: *****'.
  'exposedsecretreport-docs-replicaset-app.yaml': 'trivy-4f33f46bfc3da099',
};
