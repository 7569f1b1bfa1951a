// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Kubernetes audit events → Observations. Rules say which events matter; events matching no rule give no Observation. See plugins/audit/README.md.",
  "$defs": {
    "stage": {
      "type": "string",
      "enum": [
        "RequestReceived",
        "ResponseStarted",
        "ResponseComplete",
        "Panic"
      ]
    },
    "stringList": {
      "type": "array",
      "items": {
        "type": "string",
        "maxLength": 253
      },
      "minItems": 1,
      "maxItems": 256
    },
    "matcher": {
      "type": "object",
      "additionalProperties": false,
      "description": "Every field that is set must hold (AND); any entry of a list may hold (OR). An empty matcher matches every event.",
      "properties": {
        "verbs": {
          "$ref": "#/$defs/stringList",
          "description": "Request verbs (get, list, watch, create, update, patch, delete, deletecollection, impersonate, ...; lowercase HTTP method for non-resource URLs). '*' = any."
        },
        "apiGroups": {
          "$ref": "#/$defs/stringList",
          "description": "API groups of objectRef; '' is the core group, '*' any. Requests without objectRef (non-resource URLs) never match."
        },
        "resources": {
          "$ref": "#/$defs/stringList",
          "description": "Audit-policy style: 'pods' (the resource itself, not its subresources), 'pods/exec', 'pods/*' (pods and all its subresources), '*/scale', '*' (any resource or subresource)."
        },
        "namespaces": {
          "$ref": "#/$defs/stringList",
          "description": "objectRef namespaces, '*' wildcards allowed; '' matches cluster-scoped objects."
        },
        "names": {
          "$ref": "#/$defs/stringList",
          "description": "objectRef names, '*' wildcards allowed."
        },
        "users": {
          "$ref": "#/$defs/stringList",
          "description": "user.username (the authenticated user, not the impersonated one), '*' wildcards allowed, e.g. system:serviceaccount:kube-system:*."
        },
        "groups": {
          "$ref": "#/$defs/stringList",
          "description": "Any of user.groups, '*' wildcards allowed."
        },
        "userAgents": {
          "$ref": "#/$defs/stringList",
          "description": "userAgent, '*' wildcards allowed, e.g. kubectl/*."
        },
        "decision": {
          "type": "string",
          "enum": [
            "allow",
            "forbid"
          ],
          "description": "The authorization.k8s.io/decision annotation."
        },
        "codes": {
          "type": "array",
          "items": {
            "type": "integer",
            "minimum": 100,
            "maximum": 599
          },
          "minItems": 1,
          "maxItems": 64,
          "description": "responseStatus.code values. Events without a response status (stage RequestReceived) never match."
        },
        "succeeded": {
          "type": "boolean",
          "description": "true: responseStatus.code below 400; false: 400 or above. Events without a response status never match."
        },
        "impersonated": {
          "type": "boolean",
          "description": "true: the request used impersonation (impersonatedUser is set)."
        },
        "podSecurity": {
          "type": "array",
          "items": {
            "type": "string",
            "enum": [
              "privileged",
              "hostNetwork",
              "hostPID",
              "hostIPC",
              "hostPath"
            ]
          },
          "minItems": 1,
          "uniqueItems": true,
          "description": "The pod spec in requestObject (Pod, workload template or CronJob job template) has any of these. Needs audit level Request or RequestResponse; without a request body the rule is undecided (counted) and does not match."
        },
        "requestObject": {
          "type": "object",
          "maxProperties": 16,
          "additionalProperties": {
            "$ref": "#/$defs/stringList"
          },
          "description": "Dot path in requestObject (numeric segments index arrays) → accepted values ('*' wildcards), e.g. {\"roleRef.name\": [\"cluster-admin\"]}. Needs audit level Request or RequestResponse."
        }
      }
    }
  },
  "properties": {
    "stages": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/stage"
      },
      "minItems": 1,
      "uniqueItems": true,
      "default": [
        "ResponseStarted",
        "ResponseComplete",
        "Panic"
      ],
      "description": "Audit stages looked at by rules that do not set their own stages. A rule fires at whichever of them the audit policy keeps; several stages of one request give one Observation."
    },
    "rules": {
      "type": "array",
      "maxItems": 256,
      "description": "Replaces the built-in rules (unless includeDefaultRules). Tried in order.",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "name",
          "severity",
          "match"
        ],
        "properties": {
          "name": {
            "type": "string",
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "maxLength": 50,
            "description": "kebab-case; becomes eventType audit_<name> and details.rule (Ingester filters.excludeRules)."
          },
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
          "category": {
            "type": "string",
            "enum": [
              "security",
              "compliance"
            ]
          },
          "title": {
            "type": "string",
            "minLength": 1,
            "maxLength": 120,
            "description": "Start of the Observation title. Default: the name."
          },
          "description": {
            "type": "string",
            "maxLength": 1024,
            "description": "Start of the Observation message."
          },
          "stages": {
            "type": "array",
            "items": {
              "$ref": "#/$defs/stage"
            },
            "minItems": 1,
            "uniqueItems": true,
            "description": "Stages this rule looks at. Default: config.stages."
          },
          "match": {
            "description": "One matcher, or a list of matchers of which any may match.",
            "anyOf": [
              {
                "$ref": "#/$defs/matcher"
              },
              {
                "type": "array",
                "items": {
                  "$ref": "#/$defs/matcher"
                },
                "minItems": 1,
                "maxItems": 32
              }
            ]
          },
          "exclude": {
            "type": "array",
            "items": {
              "$ref": "#/$defs/matcher"
            },
            "maxItems": 32,
            "description": "Events matching any of these are not matched by this rule (later rules still apply)."
          }
        }
      }
    },
    "includeDefaultRules": {
      "type": "boolean",
      "default": false,
      "description": "With rules set: also apply the built-in rules, after yours. A rule of yours with a built-in rule's name replaces it."
    },
    "disableRules": {
      "type": "array",
      "items": {
        "type": "string",
        "minLength": 1
      },
      "uniqueItems": true,
      "maxItems": 256,
      "default": [],
      "description": "Names of rules (usually built-in ones) to turn off."
    },
    "exclude": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/matcher"
      },
      "maxItems": 64,
      "default": [],
      "description": "Events matching any of these are ignored by every rule."
    },
    "matchPolicy": {
      "type": "string",
      "enum": [
        "first",
        "all"
      ],
      "default": "first",
      "description": "first: the first matching rule gives the Observation; all: every matching rule gives one."
    },
    "category": {
      "type": "string",
      "enum": [
        "security",
        "compliance"
      ],
      "default": "security",
      "description": "Observation category for rules that do not set one."
    },
    "maxEvents": {
      "type": "integer",
      "minimum": 1,
      "maximum": 100000,
      "default": 10000,
      "description": "Most events accepted in one request (more: 422). The API server sends at most --audit-webhook-batch-max-size (400) per request."
    }
  }
} as const;
