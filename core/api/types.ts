/** Observation vocabulary shared by the host and plugins (DESIGN §6). */

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const CATEGORIES = ['security', 'compliance', 'performance', 'operations', 'cost'] as const;
export type Category = (typeof CATEGORIES)[number];

/** The Kubernetes object an Observation is about. Every field is optional: a webhook may know only a name. */
export interface ResourceRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/**
 * What a plugin hands to the host: one finding. The host validates and normalizes it (severity and category
 * aliases, eventType sanitizing), filters, deduplicates and writes it.
 */
export interface ObservationDraft {
  /** critical|high|medium|low|info; common aliases (CRITICAL, warning, error, ...) are normalized by the host. */
  severity: string;
  /** One line, what happened. Required. */
  title: string;
  message?: string;
  /** security (default)|compliance|performance|operations|cost. */
  category?: string;
  /** Lower snake case type, e.g. `vulnerability`; other characters become `_`. Default `custom_event`. */
  eventType?: string;
  resource?: ResourceRef;
  /** Source-specific data. Bounded by the host (`ZEN_MAX_DETAILS_BYTES`, default 16 KiB); larger is truncated. */
  details?: Record<string, unknown>;
  /**
   * The stable identity of this finding. Two drafts with the same fingerprint are the same finding, on every
   * replica and across restarts. When absent, the host hashes the draft's content.
   */
  fingerprint?: string;
  /** When the source detected it (RFC 3339 string or Date). Default: now. */
  detectedAt?: string | Date;
  /** Extra labels/annotations for the Observation (keys and values must be valid Kubernetes labels). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Overrides the Ingester's default TTL, still clamped to the Ingester's `ttl.min`/`ttl.max`. */
  ttlSeconds?: number;
  /**
   * Webhook sources (plugin API 1.2.0): the finding is over. Nothing new is written; the Observation this finding
   * was written to before (same identity: `fingerprint`, or the Ingester's `deduplication.strategy: key`) gets
   * `status.phase: Resolved`, on any replica, in both modes. A later report of the finding whose event time
   * (`detectedAt`) is after `resolvedAt` re-opens that same Observation (`Active` again, counted as a repeat); a
   * report at or before it (a late retry) does not. A draft with `resolved` needs a stable identity (an explicit
   * `fingerprint` unless the Ingester deduplicates by `key`); without one, or when no Observation of the finding
   * exists, it is dropped and counted (`invalid_draft`, `resolve_unmatched`).
   */
  resolved?: boolean;
  /** With `resolved`: when the finding ended (RFC 3339 string or Date). Default: when the host received it. */
  resolvedAt?: string | Date;
}

/** The normalized record written to a sink; `spec` matches the Observation CRD. */
export interface ObservationSpec {
  source: string;
  category: Category;
  severity: Severity;
  eventType: string;
  title: string;
  message?: string;
  resource?: ResourceRef;
  details?: Record<string, unknown>;
  fingerprint: string;
  detectedAt: string;
  ttlSecondsAfterCreation: number;
}

export interface Observation {
  /** Deterministic: `<source>-<first 16 hex of sha256(fingerprint [+ window bucket])>`. */
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: ObservationSpec;
}

/** An Ingester's `spec.config` when the plugin does not type it (`definePlugin<Config>` does). */
export type AnyConfig = Readonly<Record<string, unknown>>;

/**
 * The read-only view of an Ingester that plugins see. `config` is validated against the plugin's schema, with the
 * schema's `default`s applied (a field with a default is always present); `definePlugin<Config>` types it.
 */
export interface IngesterView<Config = AnyConfig> {
  readonly namespace: string;
  readonly name: string;
  /** Value written to Observation `spec.source`. */
  readonly source: string;
  /** The plugin source handler serving it (the plugin manifest's `sources` entry). */
  readonly handler: string;
  readonly ingester: 'webhook' | 'informer';
  readonly config: Readonly<Config>;
  readonly informer?: Readonly<{
    gvr?: { group: string; version: string; resource: string };
    namespace?: string;
    labelSelector?: string;
    fieldSelector?: string;
  }>;
  readonly webhook?: Readonly<{ path: string }>;
  readonly generation: number;
}
