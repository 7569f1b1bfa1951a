/**
 * The Ingester JSON Schema: the single source of truth. The host validates Ingester documents with it (ajv),
 * and the CRD's OpenAPI schema in config/crd/bases/ is generated from it (scripts/gen-crds.ts; a test checks the
 * committed YAML is current); descriptions here become `kubectl explain ingester.spec` text. Only fields the host
 * honours are declared: every field here has an effect.
 *
 * Structural-schema rules apply (so the CRD can be generated): no oneOf/anyOf of differing types, no if/then.
 * Cross-field rules (webhook needs spec.webhook, ...) are in validate.ts and, where CEL can express them, as
 * x-kubernetes-validations rules in the CRD (scripts/gen-crds.ts).
 */

export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
const duration = (description: string) => ({ type: 'string', pattern: DURATION_PATTERN, description }) as const;
const stringList = (description: string) =>
  ({ type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 256, description }) as const;
const SEVERITY_ENUM = ['critical', 'high', 'medium', 'low', 'info'] as const;

export const ingesterSpecSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Which source runs with which settings. Plugin-specific settings go under config.',
  required: ['source', 'ingester'],
  properties: {
    source: {
      type: 'string',
      pattern: DNS_LABEL,
      maxLength: 40,
      description: 'Tool name; becomes Observation spec.source and the prefix of Observation names.',
    },
    plugin: {
      type: 'string',
      pattern: DNS_LABEL,
      maxLength: 40,
      description:
        "The plugin source handler that serves this Ingester (a plugin manifest's `sources` entry). Default: spec.source.",
    },
    ingester: {
      type: 'string',
      enum: ['webhook', 'informer'],
      description: 'How events arrive: webhook (HTTP POSTs to every replica) or informer (watch, leader only).',
    },
    informer: {
      type: 'object',
      additionalProperties: false,
      description: 'Informer settings (leader only). Plugins with built-in resource types may not need gvr.',
      properties: {
        gvr: {
          type: 'object',
          additionalProperties: false,
          description: 'The resource to watch.',
          required: ['version', 'resource'],
          properties: {
            group: { type: 'string', default: '', description: 'API group; empty for the core group.' },
            version: { type: 'string', minLength: 1, description: 'API version, e.g. v1alpha1.' },
            resource: { type: 'string', minLength: 1, description: 'Plural resource name.' },
          },
        },
        namespace: { type: 'string', description: 'Watch one namespace; empty = every watched namespace.' },
        labelSelector: { type: 'string', description: 'Watch only objects matching this label selector.' },
        fieldSelector: { type: 'string', description: 'Watch only objects matching this field selector.' },
      },
    },
    webhook: {
      type: 'object',
      additionalProperties: false,
      description: 'Webhook settings: required when ingester is webhook, forbidden otherwise.',
      required: ['path'],
      properties: {
        path: {
          type: 'string',
          pattern: '^/[A-Za-z0-9._~/-]*$',
          maxLength: 256,
          description: 'HTTP path served on every replica, e.g. /ingest/falco. Unique across Ingesters.',
        },
        methods: {
          type: 'array',
          items: { type: 'string', enum: ['POST', 'PUT'] },
          minItems: 1,
          uniqueItems: true,
          default: ['POST'],
          description: 'Accepted methods; others get 405.',
        },
        maxBodyBytes: {
          type: 'integer',
          minimum: 1,
          maximum: 268435456,
          description: "Body limit for this path. Default: the plugin's, else ZEN_MAX_BODY_BYTES (1 MiB).",
        },
        auth: {
          type: 'object',
          additionalProperties: false,
          description:
            'Who may post. none: anyone who can reach the port (a warning is logged); bearer: Authorization: Bearer <token>; hmac: an HMAC-SHA256 signature of the body. Credentials hold one accepted value per line (rotation: old and new side by side).',
          properties: {
            type: { type: 'string', enum: ['none', 'bearer', 'hmac'], default: 'none' },
            secretRef: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              description: "A Secret in the Ingester's namespace (kubernetes mode); re-read when it changes.",
              properties: {
                name: { type: 'string', pattern: DNS_LABEL, maxLength: 253 },
                key: {
                  type: 'string',
                  minLength: 1,
                  description: 'Data key. Default: token (bearer) or secret (hmac).',
                },
              },
            },
            secretFile: {
              type: 'string',
              minLength: 1,
              description:
                'A file holding the credentials (standalone mode, or a mounted Secret); re-read when it changes.',
            },
            hmac: {
              type: 'object',
              additionalProperties: false,
              properties: {
                header: { type: 'string', minLength: 1, default: 'X-Signature-256', description: 'Signature header.' },
                prefix: { type: 'string', default: 'sha256=', description: 'Text before the hex digest.' },
                timestampHeader: {
                  type: 'string',
                  minLength: 1,
                  description:
                    'If set: unix seconds in this header, signed as "<timestamp>.<body>"; old or replayed requests are refused.',
                },
                toleranceSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 300 },
              },
            },
          },
        },
      },
    },
    filters: {
      type: 'object',
      additionalProperties: false,
      description: 'Drop drafts before dedup; every drop is counted in zen_watcher_observations_filtered_total.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'false turns every filter below off.' },
        minSeverity: { type: 'string', enum: SEVERITY_ENUM, description: 'Drop drafts below this severity.' },
        includeSeverity: {
          type: 'array',
          items: { type: 'string', enum: SEVERITY_ENUM },
          uniqueItems: true,
          description: 'Keep only these severities.',
        },
        includeNamespaces: stringList('Keep only these resource namespaces.'),
        excludeNamespaces: stringList('Drop these resource namespaces.'),
        includeKinds: stringList('Keep only these resource kinds (case-insensitive).'),
        excludeKinds: stringList('Drop these resource kinds (case-insensitive).'),
        ignoreKinds: stringList('Alias of excludeKinds (upstream name).'),
        includeCategories: stringList('Keep only these categories.'),
        excludeCategories: stringList('Drop these categories.'),
        includeEventTypes: stringList('Keep only these event types.'),
        excludeEventTypes: stringList('Drop these event types.'),
        excludeRules: stringList('Drop drafts whose details.rule is one of these.'),
      },
    },
    deduplication: {
      type: 'object',
      additionalProperties: false,
      description: 'One Observation per finding: repeats are dropped on every replica (deterministic names).',
      properties: {
        enabled: {
          type: 'boolean',
          default: true,
          description: 'false: every draft becomes a new Observation.',
        },
        strategy: {
          type: 'string',
          enum: ['fingerprint', 'key', 'hybrid'],
          default: 'fingerprint',
          description: "fingerprint: the plugin's fingerprint; key: a hash of `fields`; hybrid: both.",
        },
        window: duration(
          'Repeats of one finding within the window are duplicates. 0s = identity never expires (default for informers); webhook default 60s.',
        ),
        fields: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          maxItems: 32,
          description: 'Draft field paths (e.g. resource.name, details.rule) for the key/hybrid strategies.',
        },
      },
    },
    ttl: {
      type: 'object',
      additionalProperties: false,
      description: 'Observation lifetime (spec.ttlSecondsAfterCreation), enforced by the leader-only GC.',
      properties: {
        default: duration('Default TTL. Default: ZEN_OBSERVATION_TTL_SECONDS (7d).'),
        min: duration('Lower clamp for plugin-provided TTLs.'),
        max: duration('Upper clamp for plugin-provided TTLs.'),
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      description:
        'Per-source token bucket after dedup. Webhooks over the limit get 429 + Retry-After; informer events wait.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'false turns the limit off.' },
        requestsPerSecond: {
          type: 'number',
          minimum: 0.1,
          maximum: 100000,
          description: 'Sustained rate (bucket refill per second).',
        },
        burst: { type: 'integer', minimum: 1, maximum: 1000000, description: 'Bucket size.' },
      },
    },
    destinations: {
      type: 'array',
      minItems: 1,
      maxItems: 16,
      description:
        'Where Observations go: the Observation CRD (type crd, at most one) and Destination resources (type destination: delivered at least once, with per-use filters).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: {
            type: 'string',
            enum: ['crd', 'destination'],
            description: 'crd: the Observation resource (or the local store). destination: a Destination resource.',
          },
          value: {
            type: 'string',
            enum: ['observations'],
            default: 'observations',
            description: 'type crd: resource (plural) written; only observations (ignored for type destination).',
          },
          namespace: {
            type: 'string',
            description:
              "type crd: namespace for the Observations (default: the resource's namespace when it has one, else the Ingester's). type destination: the Destination's namespace (default: the Ingester's).",
          },
          name: {
            type: 'string',
            pattern: DNS_LABEL,
            maxLength: 63,
            description: 'type destination: the Destination resource (required).',
          },
          minSeverity: {
            type: 'string',
            enum: SEVERITY_ENUM,
            description: 'type destination: deliver only Observations at least this severe.',
          },
          sources: stringList('type destination: deliver only Observations of these sources (spec.source).'),
          namespaces: stringList('type destination: deliver only Observations in these namespaces.'),
          categories: {
            type: 'array',
            maxItems: 5,
            uniqueItems: true,
            items: { type: 'string', enum: ['security', 'compliance', 'performance', 'operations', 'cost'] },
            description: 'type destination: deliver only Observations of these categories.',
          },
        },
      },
    },
    config: {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description: "Plugin settings, validated against the plugin's configSchema.",
    },
  },
} as const;

/**
 * The JSON Schema of a whole zen.kube-zen.io/v1alpha1 document (as in a file of ZEN_CONFIG_DIR or `validate`):
 * apiVersion, kind, the metadata we read, and the resource's spec. Shared by Ingester and Destination.
 */
export function kubeDocumentSchema<Spec>(kind: string, id: string, spec: Spec) {
  return {
    $id: id,
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { type: 'string', const: 'zen.kube-zen.io/v1alpha1' },
      kind: { type: 'string', const: kind },
      metadata: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: DNS_LABEL, maxLength: 63 },
          namespace: { type: 'string', pattern: DNS_LABEL, maxLength: 63 },
          generation: { type: 'integer' },
          uid: { type: 'string' },
        },
      },
      spec,
      status: { type: 'object' },
    },
  } as const;
}

export const ingesterDocumentSchema = kubeDocumentSchema(
  'Ingester',
  'https://zen.kube-zen.io/schemas/ingester.json',
  ingesterSpecSchema,
);
