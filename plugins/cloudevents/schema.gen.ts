// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Settings of a cloudevents Destination (spec.config).",
  "properties": {
    "source": {
      "type": "string",
      "minLength": 1,
      "maxLength": 256,
      "default": "/zen-watcher",
      "description": "The CloudEvents source attribute (URI-reference); the event id is unique within it."
    },
    "typePrefix": {
      "type": "string",
      "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
      "maxLength": 200,
      "default": "io.kube-zen.observation",
      "description": "Event type is <typePrefix>.firing or <typePrefix>.resolved."
    },
    "signature": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "description": "HMAC-SHA256 signature of '<timestamp>.<body>', the same scheme a zen-watcher webhook Ingester with auth.type hmac checks.",
      "properties": {
        "secretKey": {
          "type": "string",
          "pattern": "^[-._a-zA-Z0-9]+$",
          "default": "hmac-secret",
          "description": "Key of the Destination's credentials holding the HMAC secret (first line is used)."
        },
        "header": {
          "type": "string",
          "pattern": "^[A-Za-z0-9-]+$",
          "default": "X-Signature-256",
          "description": "Header carrying 'sha256=<hex>'."
        },
        "timestampHeader": {
          "type": "string",
          "pattern": "^[A-Za-z0-9-]+$",
          "default": "X-Zen-Timestamp",
          "description": "Header carrying the unix seconds that were signed."
        },
        "required": {
          "type": "boolean",
          "default": false,
          "description": "true: never send unsigned (a missing secret is a retried failure)."
        }
      }
    },
    "bearerTokenKey": {
      "type": "string",
      "pattern": "^[-._a-zA-Z0-9]*$",
      "description": "Key of the credentials holding a bearer token for the Authorization header; '' = none.",
      "default": ""
    }
  }
} as const;
