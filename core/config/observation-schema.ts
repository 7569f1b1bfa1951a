/**
 * The Observation JSON Schema (DESIGN §6): what the host writes (`ObservationSpec` in core/api/types.ts, built by
 * the pipeline). The CRD's OpenAPI schema in config/crd/bases/ is generated from it by scripts/gen-crds.ts, and
 * test/config/crds-current.test.ts fails when the committed YAML is stale.
 *
 * The bounds mirror the pipeline's normalization (core/pipeline/normalize.ts: title 256, message 4096, eventType
 * ^[a-z0-9_]+$ up to 63, resource fields 253; fingerprint is a sha256 hex), so the API server rejects only what the
 * host would never write. Structural-schema rules apply: every node typed, no oneOf/anyOf/uniqueItems/$ref.
 * `format: date-time` needs ajv-formats when compiled with ajv.
 */
import { CATEGORIES, SEVERITIES } from '../api/index.ts';
import { ingesterSpecSchema } from './ingester-schema.ts';

const resourceField = (description: string) => ({ type: 'string', maxLength: 253, description }) as const;

export const observationSpecSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'One finding from a security tool, normalized by zen-watcher. Identity (never changes): source and fingerprint (the name derives from them). Reported content (updated in place when the source reports the same finding differently): severity, category, eventType, title, message, details.',
  required: ['source', 'category', 'severity', 'eventType', 'title', 'fingerprint', 'detectedAt'],
  properties: {
    source: {
      type: 'string',
      pattern: ingesterSpecSchema.properties.source.pattern,
      maxLength: 40,
      description: "The detecting tool: the Ingester's spec.source (e.g. trivy, falco).",
    },
    category: { type: 'string', enum: CATEGORIES, description: 'What kind of finding this is.' },
    severity: { type: 'string', enum: SEVERITIES, description: 'Normalized severity (lower case).' },
    eventType: {
      type: 'string',
      pattern: '^[a-z0-9_]+$',
      maxLength: 63,
      description: 'Lower snake case type, e.g. vulnerability, policy_violation; custom_event when unknown.',
    },
    title: { type: 'string', minLength: 1, maxLength: 256, description: 'One line: what happened.' },
    message: { type: 'string', maxLength: 4096, description: 'Longer explanation, if the source gave one.' },
    resource: {
      type: 'object',
      additionalProperties: false,
      description: 'The Kubernetes object the finding is about; a webhook source may know only some fields.',
      properties: {
        apiVersion: resourceField('e.g. apps/v1'),
        kind: resourceField('e.g. Deployment'),
        name: resourceField('Object name.'),
        namespace: resourceField('Object namespace; empty for cluster-scoped objects.'),
      },
    },
    details: {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description: 'Source-specific data, bounded by the host (ZEN_MAX_DETAILS_BYTES; larger is truncated).',
    },
    fingerprint: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'sha256 (hex) of the finding identity; equal fingerprints are the same finding.',
    },
    detectedAt: { type: 'string', format: 'date-time', description: 'When the source detected it (RFC 3339).' },
    ttlSecondsAfterCreation: {
      type: 'integer',
      minimum: 1,
      description: 'The leader-only GC deletes the Observation this many seconds after creation.',
    },
  },
} as const;

/**
 * Observation status: the finding's state, written through the status subresource only (never on create).
 * Identity lives in `spec` (source, fingerprint and the deterministic name derived from them); status is what
 * changes over the finding's life: its phase and its occurrence counts. Absent phase means Active; absent count
 * means seen once (the API server defaults both when it reads the object).
 */
export const observationStatusSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description:
    'State of the finding over its life (phase, resolution clock, occurrence counts); spec holds its identity and reported content.',
  properties: {
    phase: {
      type: 'string',
      enum: ['Active', 'Resolved'],
      default: 'Active',
      description:
        'Active: the source still reports the finding; Resolved: it no longer does (informer sources: missing for the grace period) or said it is over (webhook sources).',
    },
    resolvedAt: {
      type: 'string',
      format: 'date-time',
      description:
        'When the finding was resolved (RFC 3339): the resolving write (informer sources), or the end the source reported (webhook sources). Removed when it is re-opened.',
    },
    reason: { type: 'string', maxLength: 1024, description: 'Why the phase last changed.' },
    missingSince: {
      type: 'string',
      format: 'date-time',
      description:
        'Informer sources: since when the source no longer reports the finding; it is resolved at missingSince + ZEN_RESOLVE_AFTER_SECONDS by whichever replica leads then. Removed when the finding is reported again.',
    },
    delivered: {
      type: 'object',
      maxProperties: 64,
      additionalProperties: { type: 'string', maxLength: 200 },
      description:
        'Per Destination (namespace.name): the last event delivered (F firing, R/<resolvedAt> resolved, F/<t> firing again). Written by the delivering replica.',
    },
    count: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description:
        'How many times the source reported this finding (webhook sources: every repeat dedup folded into it, across replicas).',
    },
    firstSeen: {
      type: 'string',
      format: 'date-time',
      description: 'Event time of the earliest occurrence; absent until the first repeat (then spec.detectedAt).',
    },
    lastSeen: {
      type: 'string',
      format: 'date-time',
      description: 'Event time of the latest occurrence; absent until the first repeat (then spec.detectedAt).',
    },
  },
} as const;
