// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "kube-bench: which checks of a kube-bench --json report become Observations. Defaults are applied by the host.",
  "properties": {
    "statuses": {
      "type": "array",
      "items": {
        "type": "string",
        "enum": [
          "FAIL",
          "WARN",
          "INFO",
          "PASS"
        ]
      },
      "uniqueItems": true,
      "minItems": 1,
      "default": [
        "FAIL",
        "WARN"
      ],
      "description": "Check results reported; the others are counted and skipped."
    },
    "severities": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "description": "Observation severity per check result.",
      "properties": {
        "FAIL": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "high"
        },
        "WARN": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "medium"
        },
        "INFO": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "info"
        },
        "PASS": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ],
          "default": "info"
        }
      }
    },
    "scoredOnly": {
      "type": "boolean",
      "default": false,
      "description": "Report only scored (automated) checks."
    },
    "nodeHeader": {
      "type": "string",
      "pattern": "^[a-z0-9-]+$",
      "default": "x-node-name",
      "description": "Request header naming the node the report is about (lower case). Without it, findings have no Node resource."
    },
    "maxResults": {
      "type": "integer",
      "minimum": 1,
      "maximum": 100000,
      "default": 5000,
      "description": "Most check results accepted in one request; more is refused with 422."
    }
  }
} as const;
