// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "Settings of an alertmanager Destination (spec.config).",
  "properties": {
    "alertname": {
      "type": "string",
      "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$",
      "maxLength": 128,
      "default": "ZenWatcherFinding",
      "description": "The alertname label of every alert."
    },
    "labels": {
      "type": "object",
      "maxProperties": 32,
      "additionalProperties": {
        "type": "string",
        "maxLength": 1024
      },
      "default": {},
      "description": "Static labels added to every alert (e.g. cluster: prod-eu-1); they do not override the built-in ones."
    },
    "generatorURL": {
      "type": "string",
      "maxLength": 2048,
      "default": "",
      "description": "Link on every alert; {namespace} and {name} are replaced with the Observation's. '' = none."
    },
    "bearerTokenKey": {
      "type": "string",
      "pattern": "^[-._a-zA-Z0-9]*$",
      "default": "",
      "description": "Credentials key holding a bearer token; '' = none."
    },
    "basicAuth": {
      "type": "boolean",
      "default": false,
      "description": "true: HTTP basic auth with the credentials keys username and password."
    }
  }
} as const;
