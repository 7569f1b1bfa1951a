{{/* Names, labels, the manager's RBAC rules and the checks values.schema.json cannot express. */}}

{{- define "zen-watcher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* zen-watcher for a release called zen-watcher, else <release>-zen-watcher (as `helm create` does). */}}
{{- define "zen-watcher.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "zen-watcher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zen-watcher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller-manager
{{- end }}

{{- define "zen-watcher.labels" -}}
{{ include "zen-watcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "zen-watcher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "zen-watcher.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zen-watcher.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The manager's permissions, derived from the API calls the code makes (the table in docs/INSTALL.md; the same
rules as config/rbac/role.yaml, and test/deploy/rbac.test.ts keeps them in step). Call with
(dict "clusterScoped" true|false "root" $): false leaves out the cluster-scoped report kinds (a Role cannot grant them).
*/}}
{{- define "zen-watcher.managerRules" -}}
{{- $cluster := .clusterScoped }}
- apiGroups: [zen.kube-zen.io]
  resources: [ingesters]
  verbs: [get, list, watch]
- apiGroups: [zen.kube-zen.io]
  resources: [ingesters/status]
  verbs: [patch]
- apiGroups: [zen.kube-zen.io]
  resources: [observations]
  verbs: [create, get, list, watch, delete]
- apiGroups: [zen.kube-zen.io]
  resources: [observations/status]
  verbs: [patch]
- apiGroups: [zen.kube-zen.io]
  resources: [destinations]
  verbs: [get, list, watch]
- apiGroups: [zen.kube-zen.io]
  resources: [destinations/status]
  verbs: [patch]
- apiGroups: [aquasecurity.github.io]
  resources:
    - vulnerabilityreports
    {{- if $cluster }}
    - clustervulnerabilityreports
    {{- end }}
    - configauditreports
    {{- if $cluster }}
    - clusterconfigauditreports
    {{- end }}
    - exposedsecretreports
  verbs: [get, list, watch]
- apiGroups: [wgpolicyk8s.io]
  resources: [policyreports{{ if $cluster }}, clusterpolicyreports{{ end }}]
  verbs: [get, list, watch]
- apiGroups: [openreports.io]
  resources: [reports{{ if $cluster }}, clusterreports{{ end }}]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
{{- if $cluster }}
# Sharded replicas watch only the namespaces they own (ADR 0025): they learn the namespaces (metadata only).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
# The read API's callers: TokenReview, then SubjectAccessReview per namespace (core/readapi/access.ts).
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
{{- end }}
{{- with .root.Values.rbac.extraReadRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "zen-watcher.scheme" -}}
{{- if .Values.tls.secretName }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* The ZEN_PLUGIN_DIRS entries of image-volume plugins, as a JSON array (the image's `path` under its mount). */}}
{{- define "zen-watcher.imageVolumeDirs" -}}
{{- $dirs := list }}
{{- range .Values.plugins.imageVolumes }}
{{- $dirs = append $dirs (printf "/plugin-images/%s/%s" .name (trimPrefix "/" (default "" .path)) | trimSuffix "/") }}
{{- end }}
{{- toJson $dirs }}
{{- end }}

{{/* Relations between values that the JSON schema cannot check; rendering fails with the reason. */}}
{{- define "zen-watcher.validate" -}}
{{- $le := .Values.leaderElection }}
{{- if not (gt (float64 $le.leaseDurationSeconds) (float64 $le.renewDeadlineSeconds)) }}
{{- fail (printf "leaderElection: leaseDurationSeconds (%v) must be greater than renewDeadlineSeconds (%v)" $le.leaseDurationSeconds $le.renewDeadlineSeconds) }}
{{- end }}
{{- if not (gt (float64 $le.renewDeadlineSeconds) (mulf 1.2 (float64 $le.retryPeriodSeconds))) }}
{{- fail (printf "leaderElection: renewDeadlineSeconds (%v) must be greater than 1.2 × retryPeriodSeconds (%v)" $le.renewDeadlineSeconds $le.retryPeriodSeconds) }}
{{- end }}
{{- $stop := addf .Values.preStopSleepSeconds $le.renewDeadlineSeconds .Values.shutdownTimeoutSeconds }}
{{- if not (gt (float64 .Values.terminationGracePeriodSeconds) $stop) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + leaderElection.renewDeadlineSeconds + shutdownTimeoutSeconds (%v)" .Values.terminationGracePeriodSeconds $stop) }}
{{- end }}
{{- if and .Values.plugins.imageVolumes (not (semverCompare ">=1.31.0-0" .Capabilities.KubeVersion.Version)) }}
{{- fail (printf "plugins.imageVolumes needs Kubernetes 1.31 or newer (image volumes); this cluster is %s: use plugins.fromImages" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- $names := list }}
{{- range concat .Values.plugins.fromImages .Values.plugins.imageVolumes }}
{{- if has .name $names }}
{{- fail (printf "plugins: the name %q is used twice (fromImages and imageVolumes share one directory)" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- $secretNamespaces := list }}
{{- range .Values.webhookAuthSecrets }}
{{- if has .namespace $secretNamespaces }}
{{- fail (printf "webhookAuthSecrets: namespace %q is listed twice; put all its Secret names in one entry" .namespace) }}
{{- end }}
{{- $secretNamespaces = append $secretNamespaces .namespace }}
{{- end }}
{{- end }}
