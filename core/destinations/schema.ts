/**
 * The Destination JSON Schema (zen.kube-zen.io/v1alpha1, namespaced): one receiver, defined once, used by many
 * Ingesters through their `spec.destinations` (with per-use filters). The host validates documents with it (ajv),
 * and config/crd/bases/zen.kube-zen.io_destinations.yaml is generated from it (scripts/gen-crds.ts).
 * Structural-schema rules apply, as for the Ingester schema.
 */
import { DNS_LABEL, DURATION_PATTERN, kubeDocumentSchema } from '../config/ingester-schema.ts';

const duration = (description: string, dflt: string) =>
  ({ type: 'string', pattern: DURATION_PATTERN, default: dflt, description }) as const;

export const destinationSpecSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'One receiver of Observations (CloudEvents HTTP, Alertmanager, Slack, or a plugin type).',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      pattern: DNS_LABEL,
      maxLength: 40,
      description:
        "Destination type: a destination plugin manifest's `destinations` entry (cloudevents, alertmanager, slack, ...).",
    },
    url: {
      type: 'string',
      maxLength: 2048,
      pattern: '^https?://',
      description: 'Where to send (http or https). Slack may take it from the Secret instead (key url).',
    },
    headers: {
      type: 'object',
      maxProperties: 32,
      additionalProperties: { type: 'string', maxLength: 4096 },
      description: 'Extra HTTP headers on every request (not for secrets: use secretRef).',
    },
    secretRef: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      description:
        "Credentials: a Secret in the Destination's namespace, read on every send (rotation needs no restart). Kubernetes mode.",
      properties: {
        name: { type: 'string', pattern: DNS_LABEL, maxLength: 253, description: 'Secret name.' },
      },
    },
    secretDir: {
      type: 'string',
      minLength: 1,
      description:
        'Credentials in standalone mode: a directory with one file per key (the layout of a mounted Secret), read on every send.',
    },
    paused: {
      type: 'boolean',
      default: false,
      description: 'true stops sending; the backlog keeps growing to its bound.',
    },
    delivery: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How delivery is paced, retried and bounded.',
      properties: {
        batchSize: {
          type: 'integer',
          minimum: 1,
          maximum: 1000,
          default: 100,
          description: 'At most this many Observations per send.',
        },
        maxBacklog: {
          type: 'integer',
          minimum: 1,
          maximum: 10000000,
          default: 10000,
          description:
            'Bound of undelivered Observations; past it the oldest are given up (counted in zen_watcher_destination_dropped_total).',
        },
        timeout: duration('Deadline of one send.', '10s'),
        minBackoff: duration('First retry delay after a failed send (doubles each time, with jitter).', '1s'),
        maxBackoff: duration('Longest retry delay.', '5m'),
      },
    },
    config: {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description: "Plugin settings, validated against the destination plugin's configSchema.",
    },
  },
} as const;

export const destinationStatusSchema = {
  type: 'object',
  description: 'Delivery health, written by the replica that delivers for this Destination.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'Spec generation described.' },
    backlog: { type: 'integer', minimum: 0, description: 'Matching Observations not yet delivered.' },
    delivered: { type: 'integer', minimum: 0, description: 'Deliveries since this replica started delivering.' },
    lastDeliveryTime: { type: 'string', format: 'date-time', description: 'When a send last succeeded.' },
    lastError: { type: 'string', maxLength: 1024, description: 'The last failed send, if the latest one failed.' },
    sending: {
      type: 'array',
      maxItems: 1000,
      items: { type: 'string', maxLength: 400 },
      description: 'The batch under way (namespace/name@version): after a failover its next send counts as a resend.',
    },
    droppedBefore: {
      type: 'string',
      format: 'date-time',
      description: 'Events due before this time were given up to keep spec.delivery.maxBacklog.',
    },
  },
} as const;

export const destinationDocumentSchema = kubeDocumentSchema(
  'Destination',
  'https://zen.kube-zen.io/schemas/destination.json',
  destinationSpecSchema,
);
