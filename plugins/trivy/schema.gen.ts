// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Trivy Operator source (informer, leader only): aquasecurity.github.io/v1alpha1 reports become one Observation per finding, resolved when the finding goes away.",
  "properties": {
    "reportKinds": {
      "type": "array",
      "minItems": 1,
      "uniqueItems": true,
      "items": {
        "type": "string",
        "enum": [
          "VulnerabilityReport",
          "ConfigAuditReport",
          "ExposedSecretReport",
          "ClusterVulnerabilityReport",
          "ClusterConfigAuditReport"
        ]
      },
      "default": [
        "VulnerabilityReport"
      ],
      "description": "Report kinds to watch. A kind whose CRD is not served is logged and skipped (checked again every minute). Cluster-scoped kinds are skipped when the watch is namespace-restricted (spec.informer.namespace or WATCH_NAMESPACE)."
    },
    "minSeverity": {
      "anyOf": [
        {
          "$ref": "https://kube-zen.io/schemas/zen-watcher/plugin-config.json#/$defs/minSeverity"
        },
        {
          "const": "UNKNOWN"
        }
      ],
      "default": "info",
      "description": "Least severe finding kept (the shared minSeverity: critical > high > medium > low > info, any case, compared after mapping Trivy's CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN to critical/high/medium/low/info; UNKNOWN = info). Less severe findings are skipped (counted with reason below_min_severity); an Observation of a finding now skipped resolves."
    },
    "ignoreUnfixed": {
      "type": "boolean",
      "default": false,
      "description": "Skip vulnerabilities that have no fixedVersion (counted with reason unfixed). Config-audit checks and exposed secrets are not affected."
    },
    "namespaces": {
      "$ref": "https://kube-zen.io/schemas/zen-watcher/plugin-config.json#/$defs/namespaces",
      "default": [],
      "description": "Use only namespaced objects (here: reports) in these namespaces; [] = every namespace the Ingester watches (spec.informer.namespace, else the host's WATCH_NAMESPACE, else all). Cluster-scoped objects are not affected (choose cluster-scoped report kinds with reportKinds)."
    },
    "maxFindingsPerReport": {
      "type": "integer",
      "minimum": 1,
      "maximum": 100000,
      "default": 1000,
      "description": "Most findings of one report turned into Observations, most severe first; the rest are counted with reason over_limit and logged once per report."
    }
  }
} as const;
