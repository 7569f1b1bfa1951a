/**
 * The four policy-report resources the plugin watches. Plural names and scopes are those of the CRDs Kyverno
 * ships (wgpolicyk8s.io, `config/crds/policyreport/`) and of openreports/reports-api (`config/crd/`).
 */

export const REPORT_KIND_NAMES = ['PolicyReport', 'ClusterPolicyReport', 'Report', 'ClusterReport'] as const;
export type ReportKindName = (typeof REPORT_KIND_NAMES)[number];

export interface ReportKind {
  readonly kind: ReportKindName;
  readonly group: string;
  readonly version: string;
  /** Plural resource name (the CRD's `spec.names.plural`). */
  readonly resource: string;
  readonly namespaced: boolean;
  /** `<group>/<version>`. */
  readonly apiVersion: string;
}

const kind = (k: ReportKindName, group: string, version: string, resource: string, namespaced: boolean): ReportKind =>
  Object.freeze({ kind: k, group, version, resource, namespaced, apiVersion: `${group}/${version}` });

export const REPORT_KINDS: readonly ReportKind[] = Object.freeze([
  kind('PolicyReport', 'wgpolicyk8s.io', 'v1alpha2', 'policyreports', true),
  kind('ClusterPolicyReport', 'wgpolicyk8s.io', 'v1alpha2', 'clusterpolicyreports', false),
  kind('Report', 'openreports.io', 'v1alpha1', 'reports', true),
  kind('ClusterReport', 'openreports.io', 'v1alpha1', 'clusterreports', false),
]);

export function reportKind(name: ReportKindName): ReportKind {
  const k = REPORT_KINDS.find((x) => x.kind === name);
  if (!k) throw new Error(`unknown report kind ${name}`);
  return k;
}

/** `<plural>.<group>`, the CRD name, as used in logs and the `resource` metric label. */
export function crdName(k: ReportKind): string {
  return `${k.resource}.${k.group}`;
}
