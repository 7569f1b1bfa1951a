/**
 * objectRef names a resource (`pods`, plural, lower case), not a kind. The Observation's `resource.kind` comes from,
 * in order: this table of built-in resources (keyed by API group), then the `kind` of the request/response object
 * when the event carries one (RequestResponse/Request level, no subresource), else it is left out rather than guessed
 * (`details.objectRef.resource` always has the resource).
 */
import { isObject } from './event.ts';

const BUILTIN: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '': {
    bindings: 'Binding',
    componentstatuses: 'ComponentStatus',
    configmaps: 'ConfigMap',
    endpoints: 'Endpoints',
    events: 'Event',
    limitranges: 'LimitRange',
    namespaces: 'Namespace',
    nodes: 'Node',
    persistentvolumeclaims: 'PersistentVolumeClaim',
    persistentvolumes: 'PersistentVolume',
    pods: 'Pod',
    podtemplates: 'PodTemplate',
    replicationcontrollers: 'ReplicationController',
    resourcequotas: 'ResourceQuota',
    secrets: 'Secret',
    serviceaccounts: 'ServiceAccount',
    services: 'Service',
  },
  apps: {
    controllerrevisions: 'ControllerRevision',
    daemonsets: 'DaemonSet',
    deployments: 'Deployment',
    replicasets: 'ReplicaSet',
    statefulsets: 'StatefulSet',
  },
  extensions: {
    daemonsets: 'DaemonSet',
    deployments: 'Deployment',
    ingresses: 'Ingress',
    networkpolicies: 'NetworkPolicy',
    podsecuritypolicies: 'PodSecurityPolicy',
    replicasets: 'ReplicaSet',
  },
  batch: { cronjobs: 'CronJob', jobs: 'Job' },
  autoscaling: { horizontalpodautoscalers: 'HorizontalPodAutoscaler' },
  policy: { poddisruptionbudgets: 'PodDisruptionBudget', podsecuritypolicies: 'PodSecurityPolicy' },
  'rbac.authorization.k8s.io': {
    clusterrolebindings: 'ClusterRoleBinding',
    clusterroles: 'ClusterRole',
    rolebindings: 'RoleBinding',
    roles: 'Role',
  },
  'networking.k8s.io': { ingressclasses: 'IngressClass', ingresses: 'Ingress', networkpolicies: 'NetworkPolicy' },
  'storage.k8s.io': {
    csidrivers: 'CSIDriver',
    csinodes: 'CSINode',
    storageclasses: 'StorageClass',
    volumeattachments: 'VolumeAttachment',
  },
  'admissionregistration.k8s.io': {
    mutatingwebhookconfigurations: 'MutatingWebhookConfiguration',
    validatingadmissionpolicies: 'ValidatingAdmissionPolicy',
    validatingadmissionpolicybindings: 'ValidatingAdmissionPolicyBinding',
    validatingwebhookconfigurations: 'ValidatingWebhookConfiguration',
  },
  'apiextensions.k8s.io': { customresourcedefinitions: 'CustomResourceDefinition' },
  'apiregistration.k8s.io': { apiservices: 'APIService' },
  'authentication.k8s.io': { tokenreviews: 'TokenReview' },
  'authorization.k8s.io': {
    localsubjectaccessreviews: 'LocalSubjectAccessReview',
    selfsubjectaccessreviews: 'SelfSubjectAccessReview',
    selfsubjectrulesreviews: 'SelfSubjectRulesReview',
    subjectaccessreviews: 'SubjectAccessReview',
  },
  'certificates.k8s.io': { certificatesigningrequests: 'CertificateSigningRequest' },
  'coordination.k8s.io': { leases: 'Lease' },
  'discovery.k8s.io': { endpointslices: 'EndpointSlice' },
  'events.k8s.io': { events: 'Event' },
  'node.k8s.io': { runtimeclasses: 'RuntimeClass' },
  'scheduling.k8s.io': { priorityclasses: 'PriorityClass' },
  'zen.kube-zen.io': { ingesters: 'Ingester', observations: 'Observation' },
};

/** Kinds that describe the request, not the object the request is about. */
const NOT_THE_OBJECT = new Set([
  'Status',
  'DeleteOptions',
  'Table',
  'PartialObjectMetadata',
  'WatchEvent',
  'Scale',
  'Eviction',
  'Binding',
  'TokenRequest',
]);

function objectKind(obj: unknown, apiVersion: string | undefined): string | undefined {
  if (!isObject(obj)) return undefined;
  const kind = obj.kind;
  if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]{0,62}$/.test(kind)) return undefined;
  if (NOT_THE_OBJECT.has(kind) || kind.endsWith('List')) return undefined;
  // The object's apiVersion must agree with objectRef's when both are known (guards against e.g. meta/v1 kinds).
  if (apiVersion !== undefined && typeof obj.apiVersion === 'string' && obj.apiVersion !== apiVersion) return undefined;
  return kind;
}

/**
 * The kind of the object an event is about. `group` is '' for the core group; `apiVersion` is the full
 * `group/version` (or `v1`) when known. Subresource requests name the parent object (pods/exec → Pod), so only the
 * table is used for them: the request/response object of a subresource is a different kind (Scale, Eviction, ...).
 */
export function kindOf(
  group: string,
  resource: string | undefined,
  subresource: string | undefined,
  apiVersion: string | undefined,
  objects: readonly unknown[],
): string | undefined {
  if (resource === undefined) return undefined;
  const known = BUILTIN[group]?.[resource];
  if (known) return known;
  if (subresource !== undefined) return undefined;
  for (const o of objects) {
    const k = objectKind(o, apiVersion);
    if (k) return k;
  }
  return undefined;
}
