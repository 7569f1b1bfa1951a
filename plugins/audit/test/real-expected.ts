/**
 * What the built-in rules must make of each real audit fixture (../shared/fixtures/real/audit, read in place, never
 * copied). One entry per event that must become an Observation, in body order; `[]` = no Observation. A fixture
 * without an entry here fails the suite, so a new fixture cannot be silently ignored.
 */
import type { ResourceRef } from 'zen-watcher/plugin-api';

export interface Expected {
  rule: string;
  severity: string;
  title: string;
  resource: ResourceRef;
  auditID: string;
  stage: string;
  detectedAt: string;
}

const CONFIGMAP: ResourceRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'my-config', namespace: 'default' };
const configmap = (auditID: string, detectedAt: string): Expected => ({
  rule: 'configmap-change',
  severity: 'low',
  title: 'ConfigMap changed: create configmaps default/my-config by minikube-user',
  resource: CONFIGMAP,
  auditID,
  stage: 'ResponseComplete',
  detectedAt,
});

export const REAL_EXPECTED: Readonly<Record<string, readonly Expected[]>> = {
  // RequestResponse create of a ClusterRoleBinding to cluster-admin; no apiVersion, v1beta1-era metadata/timestamp.
  'event-create-clusterrolebinding-cluster-admin-requestresponse.json': [
    {
      rule: 'cluster-admin-binding',
      severity: 'critical',
      title: 'Binding to cluster-admin created: create clusterrolebindings some-reader-binding by minikube-user',
      resource: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'some-reader-binding' },
      auditID: 'c97244c7-4aec-4714-946a-8204d00ecdca',
      stage: 'ResponseComplete',
      detectedAt: '2018-10-26T14:26:34.242Z',
    },
  ],
  // exec at ResponseStarted (code 101): the pod-exec rule looks at ResponseStarted.
  'event-exec-pod-responsestarted-101.json': [
    {
      rule: 'pod-exec',
      severity: 'medium',
      title:
        'Exec, attach or port-forward into a pod: create pods/exec default/nginx-deployment-7998647bdf-phvq7 by minikube-user',
      resource: { apiVersion: 'v1', kind: 'Pod', name: 'nginx-deployment-7998647bdf-phvq7', namespace: 'default' },
      auditID: 'ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6',
      stage: 'ResponseStarted',
      detectedAt: '2018-10-26T13:38:34.902Z',
    },
  ],
  'event-v1-create-secret-metadata.json': [
    {
      rule: 'secret-change',
      severity: 'medium',
      title: 'Secret changed: create secrets default/example-secret by minikube-user',
      resource: { apiVersion: 'v1', kind: 'Secret', name: 'example-secret', namespace: 'default' },
      auditID: '55a81824-ab56-46c5-8b02-96336f5e78d7',
      stage: 'ResponseComplete',
      detectedAt: '2020-04-21T17:57:05.548Z',
    },
  ],
  // The token controller writing a legacy service-account token Secret: excluded by the secret-change rule.
  'event-v1-create-serviceaccount-token-secret-by-controller.json': [],
  'event-v1-delete-secret-metadata.json': [
    {
      rule: 'secret-change',
      severity: 'medium',
      title: 'Secret changed: delete secrets default/example-secret by minikube-user',
      resource: { apiVersion: 'v1', kind: 'Secret', name: 'example-secret', namespace: 'default' },
      auditID: 'd1df3fa9-497f-49cf-bd48-60a651df8075',
      stage: 'ResponseComplete',
      detectedAt: '2020-04-21T17:58:49.696Z',
    },
  ],
  // A read (get) of an OpenShift operator config: no rule.
  'event-v1-openshift-get-with-user-extra.json': [],
  // v1beta1, privileged container, generateName (objectRef has no name: taken from responseObject).
  'event-v1beta1-create-privileged-pod-requestresponse.json': [
    {
      rule: 'privileged-pod',
      severity: 'high',
      title:
        'Privileged or host-namespace pod created: create pods default/nginx-deployment-5cdcc99dbf-rgw6z by system:serviceaccount:kube-system:replicaset-controller',
      resource: { apiVersion: 'v1', kind: 'Pod', name: 'nginx-deployment-5cdcc99dbf-rgw6z', namespace: 'default' },
      auditID: 'a362d22b-db3c-4590-9505-23782f12925f',
      stage: 'ResponseComplete',
      detectedAt: '2018-10-25T14:09:12.581Z',
    },
  ],
  // v1alpha1 EventList (2017 docs): accepted; its one item is a get of a RoleBinding: no rule.
  'eventlist-v1alpha1-k8s-docs-webhook-example.json': [],
  // Six ConfigMap creates by a user (RequestResponse, data with AWS-key-looking values that must not be copied).
  'events-jsonl-configmap-sensitive-values.jsonl': [
    configmap('9a2bb12c-b9f7-4d34-809c-671e8c7e1e06', '2018-10-26T09:51:20.717Z'),
    configmap('7139c58a-6787-4cb2-8fd4-c68c308fc16d', '2018-10-26T09:51:35.562Z'),
    configmap('d222e22f-0947-4af0-853e-c66f6bd0de33', '2018-10-26T09:51:53.350Z'),
    configmap('7e93bc59-e3da-4d53-95bc-e3faaf54ffdb', '2018-10-26T09:52:07.608Z'),
    configmap('6beb5311-472e-48ce-80a6-4c6388fc17da', '2018-10-26T09:52:20.659Z'),
    configmap('efafb264-39ca-444f-b70e-0180f47f5628', '2018-10-26T09:52:32.993Z'),
  ],
};

/** Events in each real fixture (all parse as valid events). */
export const REAL_EVENT_COUNTS: Readonly<Record<string, number>> = {
  'event-create-clusterrolebinding-cluster-admin-requestresponse.json': 1,
  'event-exec-pod-responsestarted-101.json': 1,
  'event-v1-create-secret-metadata.json': 1,
  'event-v1-create-serviceaccount-token-secret-by-controller.json': 1,
  'event-v1-delete-secret-metadata.json': 1,
  'event-v1-openshift-get-with-user-extra.json': 1,
  'event-v1beta1-create-privileged-pod-requestresponse.json': 1,
  'eventlist-v1alpha1-k8s-docs-webhook-example.json': 1,
  'events-jsonl-configmap-sensitive-values.jsonl': 6,
};
