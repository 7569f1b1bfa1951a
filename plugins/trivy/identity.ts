/**
 * Who a Trivy report is about: the scanned workload (and container), independent of the report object itself.
 * Trivy Operator deletes and re-creates reports (report TTL, re-scans), so the report's uid is no identity; the
 * workload is. Sources, first match wins (FORMATS.md §1.1):
 *
 *   1. the controller ownerReference (`controller: true`; or the only ownerReference)      → `ownerReference`
 *   2. labels `trivy-operator.resource.{kind,name,namespace}`                              → `labels`
 *   3. label `trivy-operator.resource.name-hash` + annotation `trivy-operator.resource.name` → `name-hash`
 *   4. legacy labels `imgvuln.resource.*` (2021 imgvuln scanner) or `starboard.resource.*`  → `legacy-labels`
 *   5. nothing: the report itself (its name is derived from the workload, so it survives re-creation too) → `report`
 *
 * The identity key is `<kind lower-case>/<namespace>/<name>`: the same from every source above (an ownerReference
 * and the labels name the same workload), unlike the workload uid, which labels do not carry and which some real
 * reports lack (`uid: null`). A workload deleted and re-created under the same name keeps its findings.
 */
import { API_VERSION, type ReportKind } from './kinds.ts';

export type IdentitySource = 'ownerReference' | 'labels' | 'name-hash' | 'legacy-labels' | 'report';

export interface Workload {
  kind: string;
  name: string;
  /** '' for cluster-scoped workloads. */
  namespace: string;
  apiVersion?: string;
  uid?: string;
  source: IdentitySource;
  /** `<kind lower-case>/<namespace>/<name>`. */
  key: string;
}

export interface ReportIdentity {
  workload: Workload;
  /** Container name ('' when the report kind has none or it cannot be told). */
  container: string;
}

/** apiVersion of the kinds Trivy Operator scans, for identities that come from labels (no ownerReference). */
const API_VERSIONS: Readonly<Record<string, string>> = Object.freeze({
  Pod: 'v1',
  ReplicationController: 'v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Namespace: 'v1',
  Node: 'v1',
  ServiceAccount: 'v1',
  ReplicaSet: 'apps/v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  Ingress: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ClusterSbomReport: API_VERSION,
});

const LABEL_PREFIXES = ['trivy-operator', 'imgvuln', 'starboard'] as const;

type StringMap = Record<string, string>;

export function stringMap(v: unknown): StringMap {
  const out: StringMap = {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

interface OwnerRef {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
}

function controllerOf(refs: unknown): OwnerRef | undefined {
  if (!Array.isArray(refs)) return undefined;
  const usable = refs
    .filter((r): r is Record<string, unknown> => !!r && typeof r === 'object' && !Array.isArray(r))
    .filter((r) => nonEmpty(r.kind) && nonEmpty(r.name));
  const pick = usable.find((r) => r.controller === true) ?? (usable.length === 1 ? usable[0] : undefined);
  if (!pick) return undefined;
  return {
    kind: pick.kind as string,
    name: pick.name as string,
    ...(nonEmpty(pick.apiVersion) ? { apiVersion: pick.apiVersion as string } : {}),
    ...(nonEmpty(pick.uid) ? { uid: pick.uid as string } : {}),
  };
}

function makeWorkload(
  w: Omit<Workload, 'key' | 'apiVersion'> & { apiVersion?: string | undefined },
  kindInfo: ReportKind,
): Workload {
  const namespace = kindInfo.namespaced ? w.namespace : '';
  const apiVersion = w.apiVersion ?? API_VERSIONS[w.kind];
  return {
    kind: w.kind,
    name: w.name,
    namespace,
    ...(apiVersion ? { apiVersion } : {}),
    ...(w.uid ? { uid: w.uid } : {}),
    source: w.source,
    key: `${w.kind.toLowerCase()}/${namespace}/${w.name}`,
  };
}

/**
 * The workload and container a report is about; undefined when the report has no name either (nothing stable to
 * key its findings on).
 */
export function identityOf(metadata: unknown, kindInfo: ReportKind): ReportIdentity | undefined {
  const meta = (metadata && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata : {}) as Record<
    string,
    unknown
  >;
  const labels = stringMap(meta.labels);
  const annotations = stringMap(meta.annotations);
  const reportName = nonEmpty(meta.name);
  const reportNs = nonEmpty(meta.namespace) ?? '';

  const fromLabels = (prefix: string) => {
    const kind = nonEmpty(labels[`${prefix}.resource.kind`]);
    const hashed = labels[`${prefix}.resource.name-hash`] !== undefined;
    const name = nonEmpty(labels[`${prefix}.resource.name`]) ?? nonEmpty(annotations[`${prefix}.resource.name`]);
    const namespace = labels[`${prefix}.resource.namespace`];
    return kind && name ? { kind, name, namespace, hashed } : undefined;
  };
  const labelled = LABEL_PREFIXES.map((p) => ({ prefix: p, id: fromLabels(p) })).find((x) => x.id);
  const container =
    LABEL_PREFIXES.map((p) => nonEmpty(labels[`${p}.container.name`])).find((c) => c !== undefined) ?? '';

  let workload: Workload | undefined;
  const owner = controllerOf(meta.ownerReferences);
  const namespace = reportNs || labelled?.id?.namespace || '';
  if (owner) {
    workload = makeWorkload({ ...owner, namespace, source: 'ownerReference' }, kindInfo);
  } else if (labelled?.id) {
    const source: IdentitySource =
      labelled.prefix !== 'trivy-operator' ? 'legacy-labels' : labelled.id.hashed ? 'name-hash' : 'labels';
    workload = makeWorkload({ kind: labelled.id.kind, name: labelled.id.name, namespace, source }, kindInfo);
  } else if (reportName) {
    workload = makeWorkload(
      { kind: kindInfo.kind, name: reportName, namespace: reportNs, apiVersion: API_VERSION, source: 'report' },
      kindInfo,
    );
  }
  if (!workload) return undefined;

  // Vulnerability and secret reports are per container: `<kind>-<name>-<container>` when no label says it.
  let c = container;
  if (!c && kindInfo.family !== 'configaudit' && reportName && workload.source !== 'report') {
    const prefix = `${workload.kind.toLowerCase()}-${workload.name}-`;
    if (reportName.startsWith(prefix) && reportName.length > prefix.length) c = reportName.slice(prefix.length);
  }
  return { workload, container: kindInfo.family === 'configaudit' ? '' : c };
}
