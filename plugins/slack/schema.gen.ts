// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Settings of a slack Destination (spec.config).",
  "properties": {
    "urlKey": {
      "type": "string",
      "pattern": "^[-._a-zA-Z0-9]+$",
      "default": "url",
      "description": "Credentials key holding the incoming-webhook URL (used when spec.url is not set: the URL is a secret)."
    },
    "maxItems": {
      "type": "integer",
      "minimum": 1,
      "maximum": 20,
      "default": 10,
      "description": "Findings listed one by one in a digest; the rest are summed up by severity."
    },
    "minIntervalMs": {
      "type": "integer",
      "minimum": 0,
      "maximum": 600000,
      "default": 1000,
      "description": "Least time between two messages to one webhook (Slack: 1 message per second per incoming webhook)."
    },
    "title": {
      "type": "string",
      "maxLength": 150,
      "default": "zen-watcher",
      "description": "Digest header prefix, e.g. the cluster name."
    }
  }
} as const;
