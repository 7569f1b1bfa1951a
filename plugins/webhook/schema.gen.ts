// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Generic webhook: where to find each Observation field in the posted JSON. Paths are dot paths with optional [n] indexes, e.g. alert.labels.severity or items[0].name.",
  "properties": {
    "itemsField": {
      "type": "string",
      "minLength": 1,
      "description": "Path to an array of events inside the body. Default: the body itself (an object, or an array of objects)."
    },
    "fields": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "properties": {
        "severity": {
          "type": "string",
          "default": "severity"
        },
        "title": {
          "type": "string",
          "default": "title"
        },
        "message": {
          "type": "string",
          "default": "message"
        },
        "category": {
          "type": "string",
          "default": "category"
        },
        "eventType": {
          "type": "string",
          "default": "eventType"
        },
        "fingerprint": {
          "type": "string",
          "description": "A stable id of the finding (e.g. id). Default: a hash of the mapped content."
        },
        "detectedAt": {
          "type": "string",
          "default": "timestamp"
        },
        "resourceApiVersion": {
          "type": "string"
        },
        "resourceKind": {
          "type": "string"
        },
        "resourceName": {
          "type": "string"
        },
        "resourceNamespace": {
          "type": "string"
        },
        "details": {
          "type": "string",
          "description": "Path of the object to keep as details. Default: the whole event."
        }
      }
    },
    "severityMap": {
      "type": "object",
      "additionalProperties": {
        "type": "string",
        "enum": [
          "critical",
          "high",
          "medium",
          "low",
          "info"
        ]
      },
      "description": "Source values to severities, e.g. {\"P1\": \"critical\"}; matched case-insensitively before the built-in aliases."
    },
    "defaults": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "description": "Static values used when a field is absent from the event.",
      "properties": {
        "severity": {
          "type": "string",
          "enum": [
            "critical",
            "high",
            "medium",
            "low",
            "info"
          ]
        },
        "title": {
          "type": "string",
          "minLength": 1
        },
        "message": {
          "type": "string"
        },
        "category": {
          "type": "string",
          "enum": [
            "security",
            "compliance",
            "performance",
            "operations",
            "cost"
          ]
        },
        "eventType": {
          "type": "string"
        },
        "resourceApiVersion": {
          "type": "string"
        },
        "resourceKind": {
          "type": "string"
        },
        "resourceName": {
          "type": "string"
        },
        "resourceNamespace": {
          "type": "string"
        }
      }
    },
    "maxItems": {
      "type": "integer",
      "minimum": 1,
      "maximum": 100000,
      "default": 1000,
      "description": "Most events accepted in one request (more: 422)."
    }
  }
} as const;
