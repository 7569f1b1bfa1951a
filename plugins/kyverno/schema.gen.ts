// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Kyverno / policy report source (informer, leader only): wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport, openreports.io/v1alpha1 Report and ClusterReport.",
  "properties": {
    "results": {
      "type": "array",
      "items": {
        "type": "string",
        "enum": [
          "pass",
          "fail",
          "warn",
          "error",
          "skip"
        ]
      },
      "uniqueItems": true,
      "default": [
        "fail",
        "warn",
        "error"
      ],
      "description": "Report results that become Observations. pass and skip are not findings; others are counted in zen_watcher_plugin_kyverno_results_skipped_total{reason=\"result\"}. A finding whose result leaves this set (e.g. fail -> pass) is resolved."
    },
    "severityByResult": {
      "type": "object",
      "additionalProperties": false,
      "default": {
        "fail": "high",
        "warn": "medium",
        "error": "medium",
        "pass": "info",
        "skip": "info"
      },
      "description": "Severity of a result that carries no severity of its own (results[].severity, else results[].properties.severity). Kyverno copies it from the policy annotation policies.kyverno.io/severity; many policies have none.",
      "properties": {
        "fail": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "high",
          "description": "Severity for result fail: a policy check failed (Kyverno: the resource violates an Audit-mode or background-scanned policy)."
        },
        "warn": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "medium",
          "description": "Severity for result warn: Kyverno writes warn for a failure of a policy annotated policies.kyverno.io/scored: \"false\" (and for warning-only checks)."
        },
        "error": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "medium",
          "description": "Severity for result error: the policy could not be evaluated on the resource (compliance unknown)."
        },
        "pass": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "info",
          "description": "Severity for result pass: the check passed (only used if config.results includes pass)."
        },
        "skip": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "info",
          "description": "Severity for result skip: the check was skipped, e.g. by a PolicyException (only used if config.results includes skip)."
        }
      }
    },
    "namespaces": {
      "$ref": "https://kube-zen.io/schemas/zen-watcher/plugin-config.json#/$defs/namespaces",
      "default": [],
      "description": "Use only namespaced objects (here: reports) in these namespaces; [] = every namespace the Ingester watches (spec.informer.namespace, else the host's WATCH_NAMESPACE, else all). Cluster-scoped objects are not affected (choose cluster-scoped report kinds with reportKinds)."
    },
    "reportKinds": {
      "type": "array",
      "items": {
        "type": "string",
        "enum": [
          "PolicyReport",
          "ClusterPolicyReport",
          "Report",
          "ClusterReport"
        ]
      },
      "uniqueItems": true,
      "minItems": 1,
      "default": [
        "PolicyReport",
        "ClusterPolicyReport",
        "Report",
        "ClusterReport"
      ],
      "description": "Which report kinds to watch: PolicyReport/ClusterPolicyReport (wgpolicyk8s.io/v1alpha2, Kyverno's default) and Report/ClusterReport (openreports.io/v1alpha1, Kyverno with --openreportsEnabled). A kind whose CRD is not installed is logged, reported as zen_watcher_plugin_kyverno_crd_available 0 and picked up once it appears."
    },
    "minSeverity": {
      "$ref": "https://kube-zen.io/schemas/zen-watcher/plugin-config.json#/$defs/minSeverity",
      "default": "info",
      "description": "Skip findings below this severity (after severity mapping); counted with reason=\"below_min_severity\". Skipped findings count as not reported: an existing Observation for one resolves."
    },
    "discoveryIntervalSeconds": {
      "type": "integer",
      "minimum": 1,
      "maximum": 3600,
      "default": 30,
      "description": "How often the leader re-checks (API discovery) for report CRDs that were not served, until all wanted kinds are watched."
    }
  }
} as const;
