// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Generic informer: how each watched object (or each item inside it) becomes an Observation. Paths are dot paths with [n] indexes and [\"quoted.keys\"], read from the item; $object, $document, $item and $parent name other roots.",
  "properties": {
    "jsonDocument": {
      "type": "object",
      "additionalProperties": false,
      "required": [
        "key"
      ],
      "description": "Parse the JSON document held in data[key] (or base64 binaryData[key]) of each object, e.g. a ConfigMap written by kube-bench or checkov. Paths and itemsField then read the document; $object still reads the object.",
      "properties": {
        "key": {
          "type": "string",
          "minLength": 1,
          "maxLength": 253,
          "description": "The data key, e.g. results.json."
        }
      }
    },
    "itemsField": {
      "type": "string",
      "minLength": 1,
      "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\\*|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\\*|\"[^\"]*\"|'[^']*')\\])*$",
      "description": "Path to an array of items; one Observation per item. [*] flattens nested arrays: Controls[*].tests[*].results. Default: the object (or document) itself is the one item."
    },
    "match": {
      "type": "array",
      "default": [],
      "maxItems": 32,
      "description": "Conditions an item must meet to become an Observation; all must hold. Default: every item.",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "path"
        ],
        "anyOf": [
          {
            "required": [
              "values"
            ]
          },
          {
            "required": [
              "pattern"
            ]
          }
        ],
        "properties": {
          "path": {
            "type": "string",
            "minLength": 1,
            "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
          },
          "values": {
            "type": "array",
            "minItems": 1,
            "items": {
              "type": "string"
            },
            "description": "The value (as text; any element of an array) equals one of these, case-insensitively."
          },
          "pattern": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1024,
            "description": "A JavaScript regular expression the value must match, case-insensitively."
          }
        }
      }
    },
    "fields": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "description": "Where each Observation field is read from.",
      "properties": {
        "severity": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "severity"
        },
        "title": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "title"
        },
        "message": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "message"
        },
        "category": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "category"
        },
        "eventType": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "eventType"
        },
        "detectedAt": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "default": "timestamp"
        },
        "fingerprint": {
          "description": "Path, or list of paths, of the finding's stable identity (e.g. [involvedObject.uid, reason]). Default: a hash of the mapped severity, category, eventType, title, message, resource (and the item, for items). With resolve: true the object's namespace/name is always part of it.",
          "anyOf": [
            {
              "type": "string",
              "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
            },
            {
              "type": "array",
              "minItems": 1,
              "maxItems": 16,
              "items": {
                "type": "string",
                "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
              }
            }
          ]
        },
        "resource": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$",
          "description": "Path of an object with apiVersion, kind, name, namespace (e.g. involvedObject)."
        },
        "resourceApiVersion": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
        },
        "resourceKind": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
        },
        "resourceName": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
        },
        "resourceNamespace": {
          "type": "string",
          "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
        },
        "details": {
          "description": "Path of the object to keep as details, or a map of detail name to path. Default: the item (the object without managedFields in object mode).",
          "anyOf": [
            {
              "type": "string",
              "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
            },
            {
              "type": "object",
              "maxProperties": 64,
              "additionalProperties": {
                "type": "string",
                "pattern": "^(?:\\$(?:object|document|item|parent(?:\\.\\$parent)*)|[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])(?:\\.[^.\\[\\]$][^.\\[\\]]*|\\[(?:[0-9]+|\"[^\"]*\"|'[^']*')\\])*$"
              }
            }
          ]
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
      "description": "Source values to severities, e.g. {\"FAIL\": \"high\", \"Warning\": \"medium\"}; matched case-insensitively before the built-in aliases."
    },
    "defaults": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "description": "Static values used when a field is absent from the item.",
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
      "description": "Most items read from one object; an object with more is skipped (logged, counted)."
    },
    "resolve": {
      "type": "boolean",
      "default": true,
      "description": "true: each object is a scope whose findings are reconciled (a finding gone from the object, or the object deleted, is Resolved after the grace period). false: findings are only emitted (for transient objects such as Events)."
    }
  }
} as const;
