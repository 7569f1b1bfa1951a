/**
 * Pure mapping from a posted JSON event to an ObservationDraft, driven by the Ingester's spec.config. Kept apart
 * from index.ts so tests (and the test kit) can call it with no host.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { type ObservationDraft, payloadError, type Severity } from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type WebhookConfig = FromSchema<typeof configSchema>;

/** `a.b[2].c` → value, or undefined when any step is missing. */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    if (m[1]) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[m[1]];
    }
    for (const idx of m[2]!.match(/\d+/g) ?? []) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[Number(idx)];
    }
  }
  return cur;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function eventsOf(body: unknown, cfg: WebhookConfig): { items: unknown[]; prefix: string } {
  let container = body;
  let prefix = '';
  if (cfg.itemsField) {
    container = readPath(body, cfg.itemsField);
    prefix = cfg.itemsField;
    if (!Array.isArray(container)) throw payloadError(`expected an array at '${cfg.itemsField}'`, cfg.itemsField);
  }
  const items = Array.isArray(container) ? container : [container];
  if (items.length > cfg.maxItems)
    throw payloadError(`${items.length} events in one request; the limit is ${cfg.maxItems}`, prefix || '(body)');
  return { items, prefix: Array.isArray(container) ? prefix : '' };
}

export function mapEvent(
  item: unknown,
  at: string,
  cfg: WebhookConfig,
  severityOf: (v: unknown) => Severity | undefined,
): ObservationDraft {
  const f = (name: string) => (at ? `${at}.${name}` : name);
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw payloadError('each event must be a JSON object', at || '(body)');
  }
  const get = (path: string | undefined) => (path ? readPath(item, path) : undefined);

  const rawSeverity = get(cfg.fields.severity) ?? cfg.defaults.severity;
  if (rawSeverity === undefined)
    throw payloadError(
      'severity is missing (set it in the event or in config.defaults.severity)',
      f(cfg.fields.severity),
    );
  const mapped = cfg.severityMap
    ? Object.entries(cfg.severityMap).find(([k]) => k.toLowerCase() === String(rawSeverity).toLowerCase())?.[1]
    : undefined;
  const severity = mapped ?? severityOf(rawSeverity);
  if (!severity) {
    throw payloadError(
      `unknown severity ${JSON.stringify(rawSeverity)}: use critical, high, medium, low or info (or map it in config.severityMap)`,
      f(cfg.fields.severity),
    );
  }
  const title = text(get(cfg.fields.title)) ?? cfg.defaults.title;
  if (!title || title.trim() === '')
    throw payloadError(
      'title is missing or empty (set it in the event or in config.defaults.title)',
      f(cfg.fields.title),
    );
  const category = text(get(cfg.fields.category)) ?? cfg.defaults.category;
  if (
    category !== undefined &&
    !['security', 'compliance', 'performance', 'operations', 'cost'].includes(category.toLowerCase())
  ) {
    throw payloadError(
      `unknown category ${JSON.stringify(category)}: use security, compliance, performance, operations or cost`,
      f(cfg.fields.category),
    );
  }
  const detectedAtRaw = get(cfg.fields.detectedAt);
  let detectedAt: string | undefined;
  if (typeof detectedAtRaw === 'string' && !Number.isNaN(Date.parse(detectedAtRaw))) detectedAt = detectedAtRaw;

  const resource = {
    apiVersion: text(get(cfg.fields.resourceApiVersion)) ?? cfg.defaults.resourceApiVersion,
    kind: text(get(cfg.fields.resourceKind)) ?? cfg.defaults.resourceKind,
    name: text(get(cfg.fields.resourceName)) ?? cfg.defaults.resourceName,
    namespace: text(get(cfg.fields.resourceNamespace)) ?? cfg.defaults.resourceNamespace,
  };
  const details = cfg.fields.details ? get(cfg.fields.details) : item;
  const draft: ObservationDraft = { severity, title };
  const message = text(get(cfg.fields.message)) ?? cfg.defaults.message;
  if (message !== undefined) draft.message = message;
  if (category !== undefined) draft.category = category.toLowerCase();
  const eventType = text(get(cfg.fields.eventType)) ?? cfg.defaults.eventType;
  if (eventType !== undefined) draft.eventType = eventType;
  if (Object.values(resource).some((v) => v !== undefined)) {
    draft.resource = Object.fromEntries(Object.entries(resource).filter(([, v]) => v !== undefined));
  }
  if (details && typeof details === 'object' && !Array.isArray(details))
    draft.details = details as Record<string, unknown>;
  const fingerprint = text(get(cfg.fields.fingerprint));
  if (fingerprint) draft.fingerprint = fingerprint;
  if (detectedAt) draft.detectedAt = detectedAt;
  const r = cfg.resolution;
  if (r) {
    const state = text(get(r.field));
    if (state !== undefined && r.values.some((v) => v.toLowerCase() === state.toLowerCase())) {
      if (!fingerprint)
        throw payloadError(
          'a resolved event needs a fingerprint to find the Observation it ends (set config.fields.fingerprint)',
          f(cfg.fields.fingerprint ?? 'fingerprint'),
        );
      draft.resolved = true;
      const endedAt = get(r.resolvedAtField);
      if (typeof endedAt === 'string' && !Number.isNaN(Date.parse(endedAt))) draft.resolvedAt = endedAt;
    }
  }
  return draft;
}

/** All events of one request, or the first payload error (HTTP 422, the request is refused whole, naming the field). */
export function mapBody(
  body: unknown,
  cfg: WebhookConfig,
  severityOf: (v: unknown) => Severity | undefined,
): ObservationDraft[] {
  const { items, prefix } = eventsOf(body, cfg);
  const isArray = items.length !== 1 || Array.isArray(cfg.itemsField ? readPath(body, cfg.itemsField) : body);
  return items.map((item, i) => mapEvent(item, isArray ? `${prefix}[${i}]` : '', cfg, severityOf));
}
