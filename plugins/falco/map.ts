/**
 * Pure mapping from Falco alerts (Falco `http_output` with `json_output: true`, or Falcosidekick's `webhook`
 * output) to ObservationDrafts. No host needed: index.ts wraps it, tests call it directly.
 *
 * Decisions (details in README.md):
 * - One alert = one draft. A body may be one alert object, a JSON array of alerts, or JSON Lines (the host has
 *   parsed it into an array). A batch is all-or-nothing: the first bad alert refuses the whole request with a
 *   payload error (HTTP 422) naming `[i].field`.
 * - Severity from `priority` (Falco's 8 names, case-insensitive, plus `info`); anything else is an error.
 * - Time from the `time` string only, never from the `evt.time*` nanosecond integers (JSON.parse rounds them).
 * - Fingerprint: the alert's identity — source, hostname, rule, time (to the nanosecond) and output_fields
 *   (minus the derived `evt.time*`/`evt.rawtime*`/`evt.datetime*` fields). Falcosidekick's `uuid` is NOT part of it.
 */
import { hash } from 'node:crypto';
import type { FromSchema } from 'json-schema-to-ts';
import {
  builtinResource,
  canonicalJson,
  describeValue,
  type ObservationDraft,
  payloadError,
  type ResourceRef,
} from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type FalcoConfig = FromSchema<typeof configSchema>;

/** Falco priorities, most to least severe (falco_common.cpp priority_names), with the Observation severity. */
export const PRIORITIES = [
  ['emergency', 'critical'],
  ['alert', 'critical'],
  ['critical', 'critical'],
  ['error', 'high'],
  ['warning', 'medium'],
  ['notice', 'low'],
  ['informational', 'info'],
  ['debug', 'info'],
] as const;

export type FalcoPriority = (typeof PRIORITIES)[number][0];

/** Lower = more severe. `info` is Falco's accepted short form of Informational. */
export function priorityRank(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  let v = value.trim().toLowerCase();
  if (v === 'info') v = 'informational';
  const i = PRIORITIES.findIndex(([p]) => p === v);
  return i < 0 ? undefined : i;
}

export function severityOfPriority(value: unknown): string | undefined {
  const rank = priorityRank(value);
  return rank === undefined ? undefined : PRIORITIES[rank]![1];
}

export interface MapResult {
  drafts: ObservationDraft[];
  /** Alerts that were valid but not turned into drafts, by reason. */
  skipped: { internal: number; belowMinPriority: number };
}

/** Every alert of one request, or the first payload error (the whole request is refused, naming the field). */
export function mapBody(body: unknown, config: FalcoConfig, opts: { jsonLines?: boolean } = {}): MapResult {
  const minRank = priorityRank(config.minPriority) ?? PRIORITIES.length - 1;
  const result: MapResult = { drafts: [], skipped: { internal: 0, belowMinPriority: 0 } };
  let items: unknown[];
  let batch: boolean;
  if (Array.isArray(body)) {
    items = body;
    batch = true;
  } else if (isObject(body)) {
    items = [body];
    batch = false;
  } else {
    throw payloadError(
      `expected a Falco alert (a JSON object with rule, priority, time, output_fields), a JSON array of alerts or JSON Lines; got ${describeValue(body)}`,
      '(body)',
    );
  }
  if (items.length > config.maxAlerts) {
    throw payloadError(
      `${items.length} alerts in one request; the limit is ${config.maxAlerts} (config.maxAlerts)`,
      '(body)',
    );
  }
  // Validate every alert before producing anything: a batch is accepted or refused whole.
  const alerts = items.map((item, i) => parseAlert(item, batch ? `[${i}]` : '', opts.jsonLines ? i + 1 : undefined));
  for (const alert of alerts) {
    if (alert.internal && config.dropInternal) {
      result.skipped.internal++;
      continue;
    }
    if (alert.rank > minRank) {
      result.skipped.belowMinPriority++;
      continue;
    }
    result.drafts.push(toDraft(alert, config));
  }
  return result;
}

/** A validated alert. */
export interface FalcoAlert {
  rule: string;
  priority: string;
  rank: number;
  time: string;
  /** Seconds since epoch + '.' + 9 fraction digits: the same instant always gives the same text. */
  instant: string;
  detectedAt: Date;
  output?: string;
  source?: string;
  hostname?: string;
  tags?: string[];
  uuid?: string;
  outputFields: Record<string, unknown>;
  internal: boolean;
}

export function parseAlert(item: unknown, at: string, jsonLine?: number): FalcoAlert {
  const f = (name: string) => (at ? `${at}.${name}` : name);
  const where = jsonLine !== undefined ? ` (JSON Lines document ${jsonLine})` : '';
  if (!isObject(item)) {
    throw payloadError(`each alert must be a JSON object, got ${describeValue(item)}${where}`, at || '(body)');
  }
  const rule = item.rule;
  if (typeof rule !== 'string' || rule.trim() === '') {
    throw payloadError(`rule must be a non-empty string${where}`, f('rule'));
  }
  const rank = priorityRank(item.priority);
  if (rank === undefined) {
    throw payloadError(
      `unknown Falco priority ${JSON.stringify(item.priority) ?? 'undefined'}${where}: use Emergency, Alert, Critical, Error, Warning, Notice, Informational or Debug (case-insensitive)`,
      f('priority'),
    );
  }
  const time = parseTime(item.time);
  if (!time) {
    throw payloadError(
      `time must be an RFC 3339 timestamp such as 2025-02-10T09:15:40.698757000Z, got ${JSON.stringify(item.time) ?? 'undefined'}${where}`,
      f('time'),
    );
  }
  const optString = (name: string): string | undefined => {
    const v = item[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw payloadError(`${name} must be a string${where}`, f(name));
    return v;
  };
  const output = optString('output');
  const source = optString('source');
  const hostname = optString('hostname');
  const uuid = optString('uuid');
  let tags: string[] | undefined;
  if (item.tags !== undefined && item.tags !== null) {
    if (!Array.isArray(item.tags)) throw payloadError(`tags must be an array of strings${where}`, f('tags'));
    tags = item.tags.map((t, i) => {
      if (typeof t !== 'string') throw payloadError(`tags must be an array of strings${where}`, f(`tags[${i}]`));
      return t;
    });
  }
  let outputFields: Record<string, unknown> = {};
  if (item.output_fields !== undefined && item.output_fields !== null) {
    if (!isObject(item.output_fields)) {
      throw payloadError(`output_fields must be an object${where}`, f('output_fields'));
    }
    outputFields = item.output_fields;
  }
  const internal =
    source !== undefined ? source.trim().toLowerCase() === 'internal' : /^falco internal:/i.test(rule.trim());
  const alert: FalcoAlert = {
    rule: rule.trim(),
    priority: item.priority as string,
    rank,
    time: item.time as string,
    instant: time.instant,
    detectedAt: time.date,
    outputFields,
    internal,
  };
  if (output !== undefined) alert.output = output;
  if (source !== undefined) alert.source = source;
  if (hostname !== undefined) alert.hostname = hostname;
  if (tags !== undefined) alert.tags = tags;
  if (uuid !== undefined) alert.uuid = uuid;
  return alert;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * RFC 3339 with any number of fraction digits (Falco: always 9; Falcosidekick re-encodes with Go's RFC3339Nano,
 * which drops trailing zeros). `instant` is normalized to the nanosecond so both spellings are the same alert.
 */
export function parseTime(value: unknown): { instant: string; date: Date } | undefined {
  if (typeof value !== 'string') return undefined;
  return parseUtcTime(value) ?? parseAnyTime(value);
}

const digit = (s: string, i: number) => {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
};
const num = (s: string, from: number, to: number) => {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = digit(s, i);
    if (c < 0) return -1;
    n = n * 10 + c;
  }
  return n;
};

/**
 * The spelling Falco and Falcosidekick send (`2025-02-10T09:15:40.698757000Z`: upper-case T and Z, UTC, no
 * surrounding space), parsed without a regular expression or Date.parse: a hot path at thousands of alerts per
 * second. Anything else (offsets, lower case, leap seconds, years before 100) is left to parseAnyTime, which gives
 * the same result for these.
 */
function parseUtcTime(v: string): { instant: string; date: Date } | undefined {
  const n = v.length;
  if (n < 20 || v[4] !== '-' || v[7] !== '-' || v[10] !== 'T' || v[13] !== ':' || v[16] !== ':' || v[n - 1] !== 'Z')
    return undefined;
  const y = num(v, 0, 4);
  const mo = num(v, 5, 7);
  const d = num(v, 8, 10);
  const h = num(v, 11, 13);
  const mi = num(v, 14, 16);
  const s = num(v, 17, 19);
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59)
    return undefined;
  if (s < 0 || s > 59) return undefined;
  let frac = '';
  if (n > 20) {
    if (v[19] !== '.' || n === 21 || !allDigits(v, 20, n - 1)) return undefined;
    frac = v.slice(20, n - 1);
  }
  frac = frac.length === 9 ? frac : frac.padEnd(9, '0').slice(0, 9);
  const seconds = Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  return { instant: `${seconds}.${frac}`, date: new Date(seconds * 1000 + Number(frac.slice(0, 3))) };
}

function allDigits(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (digit(s, i) < 0) return false;
  return true;
}

function parseAnyTime(value: string): { instant: string; date: Date } | undefined {
  const m = RFC3339.exec(value.trim());
  if (!m) return undefined;
  const offset = m[4]!.toUpperCase() === 'Z' ? 'Z' : `${m[4]!.slice(0, 3)}:${m[4]!.slice(-2)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  const [y, mo, d] = m[1]!.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = m[2]!.split(':').map(Number) as [number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 60) return undefined;
  const frac = (m[3] ?? '').padEnd(9, '0').slice(0, 9);
  const seconds = Math.floor(ms / 1000);
  return { instant: `${seconds}.${frac}`, date: new Date(seconds * 1000 + Number(frac.slice(0, 3))) };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * The alert's identity: same alert (however delivered) ⇒ same fingerprint. A k8s_audit alert that carries the audit
 * request's ID (`ka.auditid` in output_fields) is identified by the request instead (fingerprintOfAuditRequest): one
 * API request gives one Observation per rule whichever of its audit stages the rule fired on.
 */
export function fingerprintOf(alert: FalcoAlert, sortedKeys?: readonly string[]): string {
  const byRequest = fingerprintOfAuditRequest(alert);
  if (byRequest) return byRequest;
  // canonicalJson({v: 1, source, hostname, rule, time, fields}), fields being output_fields without the derived
  // time fields: the copy is made with its keys in sorted order, so canonicalJson writes it with one JSON.stringify
  // and copies nothing more (test/fast-paths.test.ts compares it with the definition, byte for byte).
  const of = alert.outputFields;
  const keys = sortedKeys ?? outputFieldNames(alert);
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = of[k];
    if (v === undefined || (k.startsWith('evt.') && DERIVED_TIME_FIELD.test(k))) continue;
    if (k === '__proto__') Object.defineProperty(fields, k, { value: v, enumerable: true, writable: true });
    else fields[k] = v;
  }
  // Falcosidekick fills a missing source with `syscall`; treat both deliveries alike.
  const source = alert.source?.trim() || 'syscall';
  const basis = canonicalJson({
    fields,
    hostname: alert.hostname ?? '',
    rule: alert.rule,
    source,
    time: alert.instant,
    v: 1,
  });
  return `falco:${hash('sha256', basis, 'hex')}`;
}

/** Output fields that are the same in every stage of one audited request (the rest, e.g. the response, may differ). */
const AUDIT_REQUEST_FIELDS = [
  'ka.auditid',
  'ka.user.name',
  'ka.verb',
  'ka.uri',
  'jevt.value[/requestReceivedTimestamp]',
];

/**
 * For k8s_audit alerts with `ka.auditid`: rule + the request's stage-independent fields, without the time (each audit
 * stage has its own) and without the hostname (any Falco replica may receive the event). A Falco rule that fires at
 * ResponseStarted and at ResponseComplete of one exec gives one Observation. The auditID comes from the client's
 * `Audit-ID` header when it sends one, so user, verb and URI are part of the identity too (and the request's receive
 * time when the rule outputs `%jevt.value[/requestReceivedTimestamp]`).
 */
export function fingerprintOfAuditRequest(alert: FalcoAlert): string | undefined {
  if ((alert.source ?? '').trim().toLowerCase() !== 'k8s_audit') return undefined;
  const auditID = str(alert.outputFields, 'ka.auditid');
  if (!auditID) return undefined;
  const request: Record<string, string> = {};
  for (const k of AUDIT_REQUEST_FIELDS) {
    const v = str(alert.outputFields, k);
    if (v !== undefined) request[k] = v;
  }
  const basis = canonicalJson({ v: 2, source: 'k8s_audit', rule: alert.rule, request });
  return `falco:${hash('sha256', basis, 'hex')}`;
}

/** Event-time fields derived from `time` (and imprecise after JSON.parse): left out of the fingerprint. */
const DERIVED_TIME_FIELD = /^evt\.(time|rawtime|datetime)(\.|$)/;

export function eventTypeOf(alert: FalcoAlert): string {
  if (alert.internal) return 'falco_internal';
  const source = (alert.source ?? '').trim().toLowerCase();
  if (source === '' || source === 'syscall') return 'runtime_alert';
  const slug = source
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40);
  return slug ? `${slug}_alert` : 'runtime_alert';
}

/** The alert's output_fields names in sorted order (what the identity and details.outputFields are written in). */
export function outputFieldNames(alert: FalcoAlert): string[] {
  return sortKeys(Object.keys(alert.outputFields), byName);
}

export function toDraft(alert: FalcoAlert, config: FalcoConfig): ObservationDraft {
  const names = outputFieldNames(alert); // sorted once for both
  const draft: ObservationDraft = {
    severity: PRIORITIES[alert.rank]![1],
    title: alert.rule,
    category: alert.internal ? 'operations' : 'security',
    eventType: eventTypeOf(alert),
    details: detailsOf(alert, config, names),
    fingerprint: fingerprintOf(alert, names),
    detectedAt: alert.detectedAt,
  };
  if (alert.output !== undefined && alert.output.trim() !== '') draft.message = alert.output;
  const resource = resourceOf(alert);
  if (resource) draft.resource = resource;
  return draft;
}

// ---------------------------------------------------------------------------------------------------------------
// Resource

/** output_fields value as a usable string: null, '', and Falco's `<NA>` mean "unknown". */
function str(fields: Record<string, unknown>, key: string): string | undefined {
  const v = fields[key];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' || t === '<NA>' ? undefined : t;
}

export interface ParsedUri {
  apiVersion: string;
  namespace?: string;
  resource?: string;
  name?: string;
}

/** `/api/v1/namespaces/default/events/x`, `/apis/storage.k8s.io/v1/volumeattachments/x/status` → parts. */
export function parseK8sUri(uri: string | undefined): ParsedUri | undefined {
  if (!uri) return undefined;
  const path = uri.split('?')[0]!;
  const seg = path.split('/').filter((s) => s !== '');
  let rest: string[];
  let apiVersion: string;
  if (seg[0] === 'api' && seg[1]) {
    apiVersion = seg[1];
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg[1] && seg[2]) {
    apiVersion = `${seg[1]}/${seg[2]}`;
    rest = seg.slice(3);
  } else return undefined;
  const out: ParsedUri = { apiVersion };
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    out.namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest[0]) out.resource = rest[0];
  if (rest[1]) out.name = rest[1];
  return out;
}

export function resourceOf(alert: FalcoAlert): ResourceRef | undefined {
  const fields = alert.outputFields;
  const isAudit = (alert.source ?? '').trim().toLowerCase() === 'k8s_audit' || hasAuditField(fields);
  const ref: ResourceRef = {};
  let any = false;
  if (isAudit) {
    const uri = parseK8sUri(str(fields, 'ka.uri'));
    const resource = str(fields, 'ka.target.resource') ?? uri?.resource;
    const sameTarget = uri !== undefined && (uri.resource === undefined || uri.resource === resource);
    const kindKey = resource?.toLowerCase();
    const known = kindKey !== undefined ? builtinResource(kindKey) : undefined;
    const apiVersion = (sameTarget ? uri?.apiVersion : undefined) ?? known?.apiVersion;
    const name = str(fields, 'ka.target.name') ?? (sameTarget ? uri?.name : undefined);
    const namespace = str(fields, 'ka.target.namespace') ?? (sameTarget ? uri?.namespace : undefined);
    if (name || namespace) {
      any = true;
      if (apiVersion && (known || name)) ref.apiVersion = apiVersion;
      if (known) ref.kind = known.kind;
      if (name) ref.name = name;
      if (namespace) ref.namespace = namespace;
    }
  } else {
    const pod = str(fields, 'k8s.pod.name');
    const namespace = str(fields, 'k8s.ns.name');
    if (pod) {
      ref.apiVersion = 'v1';
      ref.kind = 'Pod';
      ref.name = pod;
    }
    if (namespace) ref.namespace = namespace;
    any = pod !== undefined || namespace !== undefined;
  }
  return any ? ref : undefined;
}

/** Any `ka.*` output field (a k8s_audit alert delivered without its source), without an array of the keys. */
function hasAuditField(fields: Record<string, unknown>): boolean {
  for (const k in fields) if (Object.hasOwn(fields, k) && k.startsWith('ka.')) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Details

/** Identity fields first when output_fields must be cut. */
const FIELD_GROUPS = ['k8s.', 'ka.', 'container.', 'proc.', 'user.', 'fd.', 'evt.'];

function groupOf(key: string): number {
  const i = FIELD_GROUPS.findIndex((p) => key.startsWith(p));
  return i < 0 ? FIELD_GROUPS.length : i;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

export function detailsOf(
  alert: FalcoAlert,
  config: FalcoConfig,
  sortedKeys: readonly string[] = outputFieldNames(alert),
): Record<string, unknown> {
  const max = config.maxValueLength;
  const details: Record<string, unknown> = {
    rule: truncate(alert.rule, 1024),
    priority: alert.priority,
  };
  if (alert.source !== undefined) details.source = truncate(alert.source, max);
  if (alert.hostname !== undefined) details.hostname = truncate(alert.hostname, max);
  details.time = alert.time;
  if (alert.tags !== undefined) details.tags = alert.tags.slice(0, 64).map((t) => truncate(t, max));
  if (alert.uuid !== undefined) details.uuid = truncate(alert.uuid, 64);

  const fields = alert.outputFields;
  const container: Record<string, string> = {};
  const id = str(fields, 'container.id');
  const cname = str(fields, 'container.name');
  const repo = str(fields, 'container.image.repository');
  const tag = str(fields, 'container.image.tag');
  if (id) container.id = truncate(id, max);
  if (cname) container.name = truncate(cname, max);
  if (repo) container.image = truncate(tag ? `${repo}:${tag}` : repo, max);
  if (id || cname || repo) details.container = container;

  // Written in key order, so the content hash's canonical JSON of details copies nothing (issue #18). Which fields
  // are kept when there are more than maxOutputFields is decided by FIELD_GROUPS (keptByGroup), not by that order.
  let kept: Record<string, unknown> = {};
  let count = 0;
  let omitted = 0;
  for (const key of sortedKeys) {
    const value = boundedValue(fields[key], max);
    if (value === OMIT || key.length > 256) {
      omitted++;
      continue;
    }
    if (count === config.maxOutputFields) {
      ({ kept, count, omitted } = keptByGroup(fields, sortedKeys, config));
      break;
    }
    keep(kept, key, value);
    count++;
  }
  if (count > 0) details.outputFields = kept;
  if (omitted > 0) details.outputFieldsOmitted = omitted;
  return details;
}

/** More fields than maxOutputFields: the first ones in FIELD_GROUPS order are kept, written in key order. */
function keptByGroup(
  fields: Record<string, unknown>,
  sortedKeys: readonly string[],
  config: FalcoConfig,
): { kept: Record<string, unknown>; count: number; omitted: number } {
  const chosen = new Map<string, unknown>();
  let omitted = 0;
  for (const key of byGroupThenName([...sortedKeys])) {
    const value = boundedValue(fields[key], config.maxValueLength);
    if (value === OMIT || key.length > 256 || chosen.size >= config.maxOutputFields) omitted++;
    else chosen.set(key, value);
  }
  const kept: Record<string, unknown> = {};
  for (const key of sortedKeys) if (chosen.has(key)) keep(kept, key, chosen.get(key));
  return { kept, count: chosen.size, omitted };
}

const OMIT = Symbol('omit');

/** `out[key] = value`, except that "__proto__" stays a key (an assignment would set, or with null drop, the prototype). */
function keep(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true });
  else out[key] = value;
}

function boundedValue(v: unknown, max: number): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    // Integers beyond 2^53 (evt.time, *_ts: nanoseconds) were already rounded by JSON.parse: not kept.
    if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) return OMIT;
    return v;
  }
  if (typeof v === 'string') return truncate(v, max);
  if (v === undefined) return OMIT;
  return truncate(canonicalJson(v), max);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Keys in FIELD_GROUPS order, then by name (each key's group computed once, not in every comparison). */
function byGroupThenName(keys: string[]): string[] {
  const n = keys.length;
  if (n > 24) {
    return keys
      .map((k) => [groupOf(k), k] as const)
      .sort(([ga, a], [gb, b]) => ga - gb || byName(a, b))
      .map(([, k]) => k);
  }
  const groups = keys.map(groupOf);
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    const g = groups[i]!;
    let j = i - 1;
    while (j >= 0 && (groups[j]! > g || (groups[j] === g && keys[j]! > k))) {
      keys[j + 1] = keys[j]!;
      groups[j + 1] = groups[j]!;
      j--;
    }
    keys[j + 1] = k;
    groups[j + 1] = g;
  }
  return keys;
}

/**
 * Sorts distinct keys in place, by insertion for the short key lists of alerts: Array.prototype.sort allocates work
 * arrays on every call (a tenth of each alert's garbage, issue #18). Same order as `keys.sort(compare)`.
 */
function sortKeys(keys: string[], compare: (a: string, b: string) => number): string[] {
  const n = keys.length;
  if (n > 24) return keys.sort(compare);
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && compare(keys[j]!, k) > 0) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
