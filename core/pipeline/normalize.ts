/**
 * Draft → normalized Observation fields (DESIGN §6): severity and category enums (with the aliases security tools
 * use), eventType sanitized to ^[a-z0-9_]+$, bounded text and details. Invalid drafts are reported, not thrown:
 * also a draft whose reading or serializing throws (a getter, a `toJSON`, a bigint in details).
 */
import { CATEGORIES, type Category, type ObservationDraft, SEVERITIES, type Severity } from '../api/index.ts';
import { isoString, parseIso } from './iso-time.ts';
import { MAX_JSON_DEPTH, plainJsonBytesBound, tooDeepPath } from './json-depth.ts';

const SEVERITY_ALIASES: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  emerg: 'critical',
  alert: 'critical',
  high: 'high',
  error: 'high',
  err: 'high',
  severe: 'high',
  medium: 'medium',
  moderate: 'medium',
  warning: 'medium',
  warn: 'medium',
  low: 'low',
  notice: 'low',
  minor: 'low',
  info: 'info',
  informational: 'info',
  information: 'info',
  debug: 'info',
  unknown: 'info',
  none: 'info',
  negligible: 'info',
};

export function normalizeSeverity(value: unknown): Severity | undefined {
  if (typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  // Own keys only: "__proto__", "constructor" or "toString" in a payload must not find Object.prototype's members.
  return Object.hasOwn(SEVERITY_ALIASES, key) ? SEVERITY_ALIASES[key] : undefined;
}

export function normalizeCategory(value: unknown): Category | undefined {
  if (value === undefined) return 'security';
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return (CATEGORIES as readonly string[]).includes(v) ? (v as Category) : undefined;
}

/** Already what sanitizeEventType would make of it (the usual case): returned as is. */
const CLEAN_EVENT_TYPE = /^[a-z0-9]+(?:_[a-z0-9]+)*$/;

export function sanitizeEventType(value: unknown): string {
  if (typeof value === 'string' && value.length <= 63 && CLEAN_EVENT_TYPE.test(value)) return value;
  if (typeof value !== 'string' || value.trim() === '') return 'custom_event';
  const s = value
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .slice(0, 63);
  return s.replace(/^_+|_+$/g, '') || 'custom_event';
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };
export { SEVERITIES };

export interface NormalizedDraft {
  severity: Severity;
  category: Category;
  eventType: string;
  title: string;
  message?: string;
  resource?: { apiVersion?: string; kind?: string; name?: string; namespace?: string };
  details?: Record<string, unknown>;
  fingerprint?: string;
  detectedAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ttlSeconds?: number;
  /** The finding is over (plugin API 1.2.0): resolve its Observation at `resolvedAt` (ms, event time). */
  resolvedAt?: number;
  /**
   * Internal, never stored: set only when normalization cut something (title, message, details), holding what was
   * sent for the fields that were cut. The generic fingerprint hashes these instead, so two events that differ only
   * in the part cut off stay two findings. Absent (the usual case) = nothing was cut.
   */
  sent?: { title?: string; message?: string; details?: Record<string, unknown> };
}

export type NormalizeResult = { ok: true; draft: NormalizedDraft } | { ok: false; reason: string; field: string };

const MAX_TITLE = 256;
const MAX_MESSAGE = 4096;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export function normalizeDraft(draft: unknown, opts: { maxDetailsBytes: number; now: number }): NormalizeResult {
  // One try per draft (not per field): a draft whose getter or toJSON throws, or whose details JSON cannot write
  // (bigint), is one invalid draft, not a failure of the batch it came in.
  try {
    return normalize(draft, opts);
  } catch (err) {
    return { ok: false, reason: `reading the draft threw ${thrown(err)}`, field: '' };
  }
}

/** What a draft's getter or toJSON threw, for the drop log: at most 200 characters. */
function thrown(err: unknown): string {
  const s = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `(${s.length <= 200 ? s : `${s.slice(0, 199)}…`})`;
}

function normalize(draft: unknown, opts: { maxDetailsBytes: number; now: number }): NormalizeResult {
  if (!draft || typeof draft !== 'object' || Array.isArray(draft))
    return { ok: false, reason: 'draft is not an object', field: '' };
  const d = draft as ObservationDraft;
  const severity = normalizeSeverity(d.severity);
  if (!severity) return { ok: false, reason: `unknown severity ${quoted(d.severity)}`, field: 'severity' };
  const category = normalizeCategory(d.category);
  if (!category) return { ok: false, reason: `unknown category ${quoted(d.category)}`, field: 'category' };
  if (typeof d.title !== 'string' || d.title.trim() === '')
    return { ok: false, reason: 'title must be a non-empty string', field: 'title' };
  if (d.message !== undefined && typeof d.message !== 'string')
    return { ok: false, reason: 'message must be a string', field: 'message' };
  if (d.fingerprint !== undefined && (typeof d.fingerprint !== 'string' || d.fingerprint === '')) {
    return { ok: false, reason: 'fingerprint must be a non-empty string', field: 'fingerprint' };
  }
  const resource = normalizeResource(d.resource);
  if (resource === null) return { ok: false, reason: 'resource fields must be strings', field: 'resource' };
  const detectedAt = normalizeTime(d.detectedAt, opts.now);
  if (!detectedAt) return { ok: false, reason: 'detectedAt must be an RFC 3339 time or a Date', field: 'detectedAt' };
  const labels = checkedMap(d.labels, LABEL_KEY, LABEL_VALUE);
  if (labels === null)
    return { ok: false, reason: 'labels must be valid Kubernetes label keys and values', field: 'labels' };
  const annotations = checkedMap(d.annotations, LABEL_KEY, /^[\s\S]{0,4096}$/);
  if (annotations === null)
    return { ok: false, reason: 'annotations must be valid keys with string values', field: 'annotations' };
  if (d.ttlSeconds !== undefined && (!Number.isInteger(d.ttlSeconds) || d.ttlSeconds < 1)) {
    return { ok: false, reason: 'ttlSeconds must be a positive integer', field: 'ttlSeconds' };
  }
  if (d.resolved !== undefined && typeof d.resolved !== 'boolean')
    return { ok: false, reason: 'resolved must be a boolean', field: 'resolved' };
  let resolvedAt: number | undefined;
  if (d.resolved) {
    const at = normalizeTime(d.resolvedAt, opts.now);
    if (!at) return { ok: false, reason: 'resolvedAt must be an RFC 3339 time or a Date', field: 'resolvedAt' };
    resolvedAt = Date.parse(at);
  } else if (d.resolvedAt !== undefined) {
    return { ok: false, reason: 'resolvedAt is only meaningful with resolved: true', field: 'resolvedAt' };
  }
  const title = d.title.trim();
  const out: NormalizedDraft = {
    severity,
    category,
    eventType: sanitizeEventType(d.eventType),
    title,
    detectedAt,
    labels,
    annotations,
  };
  // What was cut is kept aside (out.sent) for the fingerprint only: rare, so no object for the usual draft.
  let sent: NormalizedDraft['sent'];
  if (title.length > MAX_TITLE) {
    out.title = truncate(title, MAX_TITLE);
    sent = { title };
  }
  if (d.message) {
    if (d.message.length <= MAX_MESSAGE) out.message = d.message;
    else {
      out.message = truncate(d.message, MAX_MESSAGE);
      sent = { ...sent, message: d.message };
    }
  }
  if (resource) out.resource = resource;
  if (d.details !== undefined) {
    if (typeof d.details !== 'object' || d.details === null || Array.isArray(d.details)) {
      return { ok: false, reason: 'details must be an object', field: 'details' };
    }
    // Bounding, fingerprinting and storing walk details recursively: refuse depth before any of them can overflow.
    // One walk answers the usual case (plain data within the depth limit and clearly within the byte budget) without
    // writing the JSON out; anything else takes the exact way (issue #18: this was a JSON.stringify per event).
    const bound = plainJsonBytesBound(d.details, MAX_JSON_DEPTH);
    if (bound < 0) {
      const deep = tooDeepPath(d.details, MAX_JSON_DEPTH, 'details');
      if (deep !== undefined)
        return { ok: false, reason: `details nest deeper than ${MAX_JSON_DEPTH} levels`, field: deep };
    }
    if (bound >= 0 && bound <= opts.maxDetailsBytes) out.details = d.details;
    else {
      try {
        out.details = boundDetails(d.details, opts.maxDetailsBytes);
      } catch (err) {
        return { ok: false, reason: `details cannot be written as JSON ${thrown(err)}`, field: 'details' };
      }
      if (out.details !== d.details) sent = { ...sent, details: d.details };
    }
  }
  if (sent) out.sent = sent;
  if (d.fingerprint) out.fingerprint = d.fingerprint;
  if (d.ttlSeconds !== undefined) out.ttlSeconds = d.ttlSeconds;
  if (resolvedAt !== undefined) out.resolvedAt = resolvedAt;
  return { ok: true, draft: out };
}

function normalizeResource(r: unknown): NormalizedDraft['resource'] | null | undefined {
  if (r === undefined || r === null) return undefined;
  if (typeof r !== 'object') return null;
  const out: Record<string, string> = {};
  for (const k of ['apiVersion', 'kind', 'name', 'namespace'] as const) {
    const v = (r as Record<string, unknown>)[k];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') return null;
    out[k] = v.slice(0, 253);
  }
  return Object.keys(out).length ? out : undefined;
}

function normalizeTime(t: unknown, now: number): string | undefined {
  if (t === undefined || t === null || t === '') return isoString(now);
  // parseIso is Date.parse (as `new Date(string)`), with a cache of the strings formatted here.
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? parseIso(t) : Number.NaN;
  if (Number.isNaN(ms)) return undefined;
  return isoString(ms);
}

/** No labels / annotations (most drafts): one shared, frozen empty map rather than two new objects per draft. */
const NO_ENTRIES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function checkedMap(m: unknown, key: RegExp, value: RegExp): Record<string, string> | null {
  if (m === undefined || m === null) return NO_ENTRIES;
  if (typeof m !== 'object' || Array.isArray(m)) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string' || !key.test(k) || !value.test(v)) return null;
    out[k] = v;
  }
  return out;
}

/** A rejected input value quoted in a reason (and so in logs and error bodies): at most 64 characters of it. */
function quoted(v: unknown): string {
  const s = typeof v === 'string' ? v : String(JSON.stringify(v) ?? v);
  return JSON.stringify(s.length <= 64 ? s : `${s.slice(0, 63)}…`);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * Keeps details under the byte budget: whole top-level fields in order while they fit, then a marker. Large
 * reports must not push an Observation toward etcd's object size limit.
 */
export function boundDetails(details: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  const whole = JSON.stringify(details);
  if (Buffer.byteLength(whole) <= maxBytes) return details;
  const out: Record<string, unknown> = {};
  let used = 64;
  const omitted: string[] = [];
  for (const [k, v] of Object.entries(details)) {
    const size = Buffer.byteLength(JSON.stringify(v) ?? '') + k.length + 4;
    if (used + size <= maxBytes) {
      // An own "__proto__" key stays a key: an assignment would set (or, with null, drop) the prototype instead.
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true });
      else out[k] = v;
      used += size;
    } else omitted.push(k);
  }
  out._truncated = { originalBytes: Buffer.byteLength(whole), omittedFields: omitted.slice(0, 20) };
  return out;
}
