/**
 * Pure mapping: request body + Ingester config → ObservationDrafts, with counts of what was skipped and why. No host
 * needed: index.ts adds metrics and logging around it, tests call it directly.
 *
 * Decisions (README.md has the user-facing version):
 * - One Observation per request (matchPolicy first) or per (request, matching rule) (matchPolicy all), whichever
 *   stages of the request the audit policy keeps: the fingerprint is the request's identity (requestKey), not the
 *   event's, so the ResponseStarted and ResponseComplete events of one exec are one Observation, and a batch the API
 *   server resends maps to the same Observation names. Events matching no rule give none. Stage filter first.
 * - The request's identity is its auditID plus fields the API server sets once per request and repeats in every
 *   stage (requestReceivedTimestamp, user, verb, requestURI): a client may choose its own auditID (the `Audit-ID`
 *   request header), and must not be able to make its request a duplicate of an earlier one.
 * - A bad item in a list is skipped and reported in `invalid`; the request is refused (422) only when the body is not
 *   a list/Event at all, when it is a single bad Event, or when no item of a non-empty list is an event.
 * - Never copies requestObject/responseObject into details (they hold Secret data, ConfigMap values, tokens).
 */
import { hash } from 'node:crypto';
import { type ObservationDraft, type ResourceRef, ZwError } from 'zen-watcher/plugin-api';
import { bodyItems } from './body.ts';
import { type AuditConfig, type ResolvedConfig, resolveConfig } from './config.ts';
import {
  type AuditEvent,
  type AuditUser,
  EventError,
  type EventErrorReason,
  isObject,
  OBJECT_REF_FIELDS,
  parseEvent,
} from './event.ts';
import { kindOf } from './kinds.ts';
import { type CompiledRules, compileRules, evaluate, type RuleHit } from './rules.ts';

/**
 * Bounds on what an Observation copies from one event, chosen so that the worst case stays under the host's details
 * budget (ZEN_MAX_DETAILS_BYTES, default 16 KiB) and the host never has to drop whole fields.
 */
export const LIMITS = Object.freeze({
  /** Characters of one name-like string (username, group, annotation key, objectRef field). */
  text: 253,
  /** Characters of all groups of one user together; of all user.extra values together. */
  groupsTotal: 1024,
  extraTotal: 768,
  extraValuesPerKey: 4,
  sourceIPs: 16,
  userAgent: 256,
  requestURI: 1024,
  statusMessage: 1024,
  annotations: 32,
  annotationValue: 512,
  /** Characters of all annotation keys and values together. */
  annotationsTotal: 4096,
});

export interface InvalidItem {
  /** Field path in the body, e.g. `items[3].stage`. */
  field: string;
  reason: EventErrorReason;
  message: string;
}

export interface MapStats {
  /** Items in the body. */
  events: number;
  invalid: number;
  stageSkipped: number;
  excluded: number;
  unmatched: number;
  /** Events that gave at least one Observation. */
  matched: number;
  /** Rule name → Observations. */
  byRule: Record<string, number>;
  /** `rule/why` → events a rule could not decide (no request body at this audit level, truncated event). */
  undecided: Record<string, number>;
}

export interface MapResult {
  drafts: ObservationDraft[];
  stats: MapStats;
  invalid: InvalidItem[];
  /** Set when the request must be refused (HTTP 422): the body holds no usable event. */
  refuse?: { message: string; field: string };
  /** Config problems the schema cannot express (duplicate rule names, unknown disableRules entries). */
  warnings: string[];
}

const compiledCache = new WeakMap<object, CompiledRules>();

/** Compiled rules for an Ingester config (cached per config object: the host hands out one frozen object per generation). */
export function rulesFor(config: Readonly<AuditConfig>): CompiledRules {
  let c = compiledCache.get(config);
  if (!c) {
    c = compileRules(resolveConfig(config));
    compiledCache.set(config, c);
  }
  return c;
}

function join(at: string, field: string): string {
  if (!field) return at || '(body)';
  return at ? `${at}.${field}` : field;
}

export function mapBody(body: unknown, config: Readonly<AuditConfig>, opts: { jsonLines?: boolean } = {}): MapResult {
  const set = rulesFor(config);
  const cfg = set.config;
  const stats: MapStats = {
    events: 0,
    invalid: 0,
    stageSkipped: 0,
    excluded: 0,
    unmatched: 0,
    matched: 0,
    byRule: {},
    undecided: {},
  };
  const result: MapResult = { drafts: [], stats, invalid: [], warnings: cfg.warnings };
  let parsed: ReturnType<typeof bodyItems>;
  try {
    parsed = bodyItems(body, cfg.maxEvents);
  } catch (err) {
    if (err instanceof ZwError) {
      result.refuse = { message: err.message, field: err.field ?? '' };
      return result;
    }
    throw err;
  }
  const values = parsed.values;
  stats.events = values.length;
  for (let i = 0; i < values.length; i++) {
    let ev: AuditEvent;
    try {
      ev = parseEvent(values[i]);
    } catch (err) {
      if (!(err instanceof EventError)) throw err;
      const at = parsed.at(i);
      const line = opts.jsonLines && /^\[(\d+)\]/.exec(at);
      const where = line ? ` (line ${Number(line[1]) + 1})` : '';
      result.invalid.push({ field: join(at, err.field), reason: err.reason, message: `${err.message}${where}` });
      stats.invalid++;
      continue;
    }
    const e = evaluate(set, ev);
    for (const u of e.undecided) {
      const key = `${u.rule}/${u.why}`;
      stats.undecided[key] = (stats.undecided[key] ?? 0) + 1;
    }
    if (e.outcome === 'stage_skipped') stats.stageSkipped++;
    else if (e.outcome === 'excluded') stats.excluded++;
    else if (e.outcome === 'unmatched') stats.unmatched++;
    else stats.matched++;
    const undecidedRules = e.undecided.length ? e.undecided.map((u) => u.rule) : NONE;
    for (const hit of e.hits) {
      stats.byRule[hit.rule.name] = (stats.byRule[hit.rule.name] ?? 0) + 1;
      result.drafts.push(toDraft(ev, hit, cfg, undecidedRules));
    }
  }
  const first = result.invalid[0];
  if (first && (parsed.single || stats.invalid === stats.events)) {
    const what = parsed.single ? 'the body is not' : `none of the ${stats.events} items is`;
    result.refuse = { message: `${what} a usable audit event: ${first.message}`, field: first.field };
  }
  return result;
}

const NONE: readonly string[] = Object.freeze([]);

// ---------------------------------------------------------------------------------------------------------------
// Event → draft
//
// Every matched event of a 400-event batch goes through here (issue #18): details are written field by field into
// their object, without the intermediate arrays of entries/map/fromEntries, in the same key order as before.

/** `out[key] = value`, as an own data property even for the key `__proto__` (as Object.fromEntries would). */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Items of a list while their total length stays within `budget` characters. */
function within<T>(items: readonly T[], size: (x: T) => number, budget: number): T[] {
  const out: T[] = [];
  let used = 0;
  for (const x of items) {
    used += size(x);
    if (used > budget) break;
    out.push(x);
  }
  return out;
}

function userDetails(u: AuditUser): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (u.username !== undefined) out.username = cut(u.username, LIMITS.text);
  if (u.uid !== undefined) out.uid = cut(u.uid, LIMITS.text);
  const n = u.groups.length;
  if (n) {
    // The groups, each cut, while their total length stays within the budget.
    const groups: string[] = [];
    let used = 0;
    for (let i = 0; i < n; i++) {
      const g = cut(u.groups[i]!, LIMITS.text);
      used += g.length;
      if (used > LIMITS.groupsTotal) break;
      groups.push(g);
    }
    out.groups = groups;
    if (n > groups.length) out.groupsDropped = n - groups.length;
  }
  if (u.extra) {
    const entries = Object.entries(u.extra).map(
      ([k, v]) => [cut(k, LIMITS.text), v.slice(0, LIMITS.extraValuesPerKey).map((x) => cut(x, LIMITS.text))] as const,
    );
    const kept = within(entries, ([k, v]) => k.length + v.reduce((n, x) => n + x.length, 0), LIMITS.extraTotal);
    out.extra = Object.fromEntries(kept);
  }
  return out;
}

/**
 * The first LIMITS.annotations annotations, each cut, while their total length stays within the budget; `dropped`
 * counts the others.
 */
function boundedAnnotations(a: Record<string, string>): { annotations: Record<string, string>; dropped: number } {
  const annotations: Record<string, string> = {};
  let total = 0;
  let kept = 0;
  let used = 0;
  let full = false;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    total++;
    if (full || kept >= LIMITS.annotations) {
      full = true;
      continue;
    }
    const key = cut(k, LIMITS.text);
    const value = cut(a[k]!, LIMITS.annotationValue);
    used += key.length + value.length;
    if (used > LIMITS.annotationsTotal) {
      full = true;
      continue;
    }
    put(annotations, key, value);
    kept++;
  }
  return { annotations, dropped: total - kept };
}

function hasKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

function metadataName(obj: unknown): string | undefined {
  if (!isObject(obj) || !isObject(obj.metadata)) return undefined;
  const n = obj.metadata.name;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

/** The Observation's resource: objectRef mapped to apiVersion/kind/name/namespace (see kinds.ts for kind). */
export function resourceOf(ev: AuditEvent): ResourceRef | undefined {
  const ref = ev.objectRef;
  if (!ref) return undefined;
  const apiVersion = ref.version === undefined ? undefined : ref.group ? `${ref.group}/${ref.version}` : ref.version;
  const out: ResourceRef = {};
  let any = false;
  if (apiVersion !== undefined) {
    out.apiVersion = apiVersion;
    any = true;
  }
  const kind = kindOf(ref.group, ref.resource, ref.subresource, apiVersion, [ev.responseObject, ev.requestObject]);
  if (kind !== undefined) {
    out.kind = kind;
    any = true;
  }
  // create with generateName: objectRef has no name, the created object (response, else request) has it.
  const name =
    ref.name ??
    (ref.subresource === undefined && ev.verb === 'create'
      ? (metadataName(ev.responseObject) ?? metadataName(ev.requestObject))
      : undefined);
  if (name !== undefined) {
    out.name = name;
    any = true;
  }
  if (ref.namespace !== undefined) {
    out.namespace = ref.namespace;
    any = true;
  }
  return any ? out : undefined;
}

/** `secrets default/example-secret`, `pods/exec default/web-1`, `clusterroles admin`, or the URL path. */
function targetText(ev: AuditEvent, resource: ResourceRef | undefined): string {
  const ref = ev.objectRef;
  if (!ref?.resource) return cut((ev.requestURI ?? '').split('?')[0] || '(no target)', 200);
  const what = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
  const name = resource?.name;
  const obj = ref.namespace ? `${ref.namespace}/${name ?? '*'}` : name;
  return obj ? `${what} ${obj}` : what;
}

function actorText(ev: AuditEvent): string {
  const who = ev.user.username ?? '(unknown user)';
  const as = ev.impersonatedUser?.username;
  return as ? `${who} as ${as}` : who;
}

/**
 * The identity of the request an event belongs to, the same in each of its stages and in every resend of a batch:
 * `<auditID>/<16 hex>`, the hex a hash of the request's receive time, user, verb and URI. The auditID alone is not
 * enough: the API server takes it from the client's `Audit-ID` header when there is one.
 */
export function requestKey(ev: AuditEvent): string {
  const basis = JSON.stringify([
    ev.requestReceivedTimestamp ?? ev.timestamp ?? '',
    ev.user.username ?? '',
    ev.verb,
    ev.requestURI ?? '',
  ]);
  // crypto.hash: the same digest as createHash(...).update().digest(), without a Hash object per event.
  return `${ev.auditID}/${hash('sha256', basis, 'hex').slice(0, 16)}`;
}

/** `audit_<rule name>` (eventType), per rule name: the same few names for every event. */
const EVENT_TYPES = new Map<string, string>();
function eventTypeOf(rule: string): string {
  let t = EVENT_TYPES.get(rule);
  if (t === undefined) {
    if (EVENT_TYPES.size >= 1024) EVENT_TYPES.clear();
    t = `audit_${rule.replace(/-/g, '_')}`;
    EVENT_TYPES.set(rule, t);
  }
  return t;
}

export function toDraft(
  ev: AuditEvent,
  hit: RuleHit,
  cfg: ResolvedConfig,
  undecidedRules: readonly string[] = [],
): ObservationDraft {
  const rule = hit.rule;
  const resource = resourceOf(ev);
  const target = targetText(ev, resource);
  const actor = actorText(ev);
  const code = ev.responseStatus?.code;
  const decision = ev.annotations['authorization.k8s.io/decision'];

  // `: HTTP 403 Forbidden; authorization deny (...); pod: privileged`, or '' (written without an array and a join).
  let outcome = '';
  if (code !== undefined) {
    const why = ev.responseStatus?.reason ?? ev.responseStatus?.status;
    outcome = `: HTTP ${code}${why ? ` ${why}` : ''}`;
  }
  if (decision) {
    const reason = ev.annotations['authorization.k8s.io/reason'];
    outcome += `${outcome ? '; ' : ': '}authorization ${decision}${reason ? ` (${cut(reason, 200)})` : ''}`;
  }
  if (hit.podSecurity.length) outcome += `${outcome ? '; ' : ': '}pod: ${hit.podSecurity.join(', ')}`;
  const sentence = `${actor} ${ev.verb} ${target}${outcome}.`;

  const details: Record<string, unknown> = {
    rule: rule.name,
    auditID: ev.auditID,
    stage: ev.stage,
    verb: ev.verb,
  };
  if (ev.level !== undefined) details.level = ev.level;
  if (ev.requestURI !== undefined) details.requestURI = cut(ev.requestURI, LIMITS.requestURI);
  details.user = userDetails(ev.user);
  if (ev.impersonatedUser) details.impersonatedUser = userDetails(ev.impersonatedUser);
  const ips = ev.sourceIPs;
  if (ips.length) {
    const n = Math.min(ips.length, LIMITS.sourceIPs);
    const kept = new Array<string>(n);
    for (let i = 0; i < n; i++) kept[i] = cut(ips[i]!, 64);
    details.sourceIPs = kept;
  }
  if (ev.userAgent !== undefined) details.userAgent = cut(ev.userAgent, LIMITS.userAgent);
  if (ev.objectRef) {
    // The fields as sent (not the derived group/version), in parseEvent's order.
    const ref = ev.objectRef;
    const sent: Record<string, string> = {};
    for (const k of OBJECT_REF_FIELDS) {
      const v = ref[k];
      if (v !== undefined) sent[k] = cut(v, LIMITS.text);
    }
    details.objectRef = sent;
  }
  if (ev.responseStatus) {
    const rs = ev.responseStatus;
    const status: Record<string, unknown> = {};
    if (rs.code !== undefined) status.code = rs.code;
    if (rs.status !== undefined) status.status = cut(rs.status, 64);
    if (rs.reason !== undefined) status.reason = cut(rs.reason, 128);
    if (rs.message !== undefined) status.message = cut(rs.message, LIMITS.statusMessage);
    details.responseStatus = status;
  }
  if (hasKeys(ev.annotations)) {
    const { annotations, dropped } = boundedAnnotations(ev.annotations);
    details.annotations = annotations;
    if (dropped > 0) details.annotationsDropped = dropped;
  }
  if (hit.podSecurity.length) details.podSecurity = hit.podSecurity;
  if (undecidedRules.length) details.undecidedRules = [...undecidedRules];
  if (ev.requestReceivedTimestamp) details.requestReceivedTimestamp = ev.requestReceivedTimestamp;
  if (ev.stageTimestamp) details.stageTimestamp = ev.stageTimestamp;

  const draft: ObservationDraft = {
    severity: rule.severity,
    category: rule.category ?? cfg.category,
    eventType: eventTypeOf(rule.name),
    title: cut(`${rule.title ?? rule.name}: ${ev.verb} ${target} by ${actor}`, 256),
    message: cut(rule.description ? `${rule.description} ${sentence}` : sentence, 2048),
    details,
    fingerprint: cfg.matchPolicy === 'all' ? `${requestKey(ev)}/${rule.name}` : requestKey(ev),
  };
  if (resource) draft.resource = resource;
  const detectedAt = ev.stageTimestamp ?? ev.requestReceivedTimestamp ?? ev.timestamp;
  if (detectedAt) draft.detectedAt = detectedAt;
  return draft;
}
