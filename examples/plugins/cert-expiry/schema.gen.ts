// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.
// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.
export const configSchema = {
  "type": "object",
  "additionalProperties": false,
  "description": "cert-expiry: which cert-manager Certificates to report. Defaults are applied by the host.",
  "properties": {
    "warnDays": {
      "type": "integer",
      "minimum": 1,
      "maximum": 3650,
      "default": 30,
      "description": "Report a Certificate whose status.notAfter is at most this many days away (severity medium)."
    },
    "urgentDays": {
      "type": "integer",
      "minimum": 0,
      "maximum": 3650,
      "default": 7,
      "description": "At most this many days away: severity high. An expired Certificate is critical."
    },
    "notReady": {
      "type": "boolean",
      "default": true,
      "description": "Also report Certificates whose Ready condition is False (issuance or renewal failing)."
    },
    "notReadySeverity": {
      "type": "string",
      "enum": [
        "critical",
        "high",
        "medium",
        "low",
        "info"
      ],
      "default": "high",
      "description": "Severity of a Ready=False finding."
    },
    "recheckMinutes": {
      "type": "integer",
      "minimum": 1,
      "maximum": 1440,
      "default": 60,
      "description": "Re-evaluate every watched Certificate this often: time passing moves a Certificate into the window, and no watch event says so."
    }
  }
} as const;
