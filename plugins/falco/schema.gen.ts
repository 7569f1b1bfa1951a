// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Falco source: alerts from Falco http_output (json_output: true) or the Falcosidekick webhook output.",
  "properties": {
    "minPriority": {
      "type": "string",
      "enum": [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "notice",
        "informational",
        "info",
        "debug",
        "Emergency",
        "Alert",
        "Critical",
        "Error",
        "Warning",
        "Notice",
        "Informational",
        "Info",
        "Debug",
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFORMATIONAL",
        "INFO",
        "DEBUG"
      ],
      "default": "debug",
      "description": "Least severe Falco priority turned into an Observation (Falco order: Emergency > Alert > Critical > Error > Warning > Notice > Informational > Debug; info = Informational). Less severe alerts are skipped and counted in zen_watcher_plugin_falco_alerts_skipped_total{reason=\"below_min_priority\"}."
    },
    "dropInternal": {
      "type": "boolean",
      "default": true,
      "description": "Skip Falco's own alerts (source internal: metrics snapshots, syscall event drops, Falcosidekick's Test rule). Counted with reason=\"internal\"."
    },
    "maxOutputFields": {
      "type": "integer",
      "minimum": 0,
      "maximum": 256,
      "default": 32,
      "description": "Most output_fields copied into details.outputFields (Kubernetes, k8s_audit and container fields first, then alphabetical); the rest are counted in details.outputFieldsOmitted."
    },
    "maxValueLength": {
      "type": "integer",
      "minimum": 16,
      "maximum": 4096,
      "default": 256,
      "description": "Longest string value (output field, tag) copied into details; longer values are cut and end with an ellipsis."
    },
    "maxAlerts": {
      "type": "integer",
      "minimum": 1,
      "maximum": 100000,
      "default": 1000,
      "description": "Most alerts accepted in one request (JSON array or JSON Lines); more is refused with 422."
    }
  }
} as const;
