/**
 * The Trivy Operator report kinds this plugin understands (`aquasecurity.github.io/v1alpha1`), with the findings
 * array each one carries and the Observation eventType its findings get.
 *
 * Cluster-scoped twins that exist upstream: ClusterVulnerabilityReport and ClusterConfigAuditReport. There is no
 * ClusterExposedSecretReport. RBAC/infra assessment, SBOM and compliance reports are not handled here.
 */

export const GROUP = 'aquasecurity.github.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type ReportFamily = 'vulnerability' | 'configaudit' | 'exposedsecret';

export interface ReportKind {
  /** Kubernetes kind, also the value used in `config.reportKinds`. */
  readonly kind: string;
  /** Plural resource name (the informer's `resource`). */
  readonly resource: string;
  readonly namespaced: boolean;
  readonly family: ReportFamily;
  /** Observation eventType of its findings. */
  readonly eventType: 'vulnerability' | 'misconfiguration' | 'exposed_secret';
}

export const REPORT_KINDS: readonly ReportKind[] = Object.freeze([
  {
    kind: 'VulnerabilityReport',
    resource: 'vulnerabilityreports',
    namespaced: true,
    family: 'vulnerability',
    eventType: 'vulnerability',
  },
  {
    kind: 'ClusterVulnerabilityReport',
    resource: 'clustervulnerabilityreports',
    namespaced: false,
    family: 'vulnerability',
    eventType: 'vulnerability',
  },
  {
    kind: 'ConfigAuditReport',
    resource: 'configauditreports',
    namespaced: true,
    family: 'configaudit',
    eventType: 'misconfiguration',
  },
  {
    kind: 'ClusterConfigAuditReport',
    resource: 'clusterconfigauditreports',
    namespaced: false,
    family: 'configaudit',
    eventType: 'misconfiguration',
  },
  {
    kind: 'ExposedSecretReport',
    resource: 'exposedsecretreports',
    namespaced: true,
    family: 'exposedsecret',
    eventType: 'exposed_secret',
  },
] as const);

export const REPORT_KIND_NAMES: readonly string[] = REPORT_KINDS.map((k) => k.kind);

export function reportKind(kind: string): ReportKind | undefined {
  return REPORT_KINDS.find((k) => k.kind === kind);
}
