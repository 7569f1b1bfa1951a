/**
 * Pure mapping from one watched Kubernetes object to ObservationDrafts, driven by the compiled config (config.ts).
 * No host needed: tests call it directly.
 *
 *   object ──(jsonDocument: parse data[key])──► document ──(itemsField)──► items ──(match)──► drafts
 *
 * Without jsonDocument the document is the object; without itemsField the single item is the document. A problem
 * with the whole object (no document, invalid JSON, wrong shape, too many items) throws ObjectSkip: the object is
 * skipped and nothing is reconciled, so a malformed report never reads as "no findings". A problem with one item
 * (unknown severity, ...) skips that item only and is reported in `skipped`.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type ObservationDraft, type ResourceRef, type Severity } from 'zen-watcher/plugin-api';
import type { CompiledConfig, CompiledMatch } from './config.ts';
import { expandItems, ItemsShapeError, type ParsedPath, type PathContext, readPath } from './path.ts';

export type ObjectSkipReason = 'no_name' | 'no_document' | 'invalid_document' | 'items_shape' | 'too_many_items';
export type ItemSkipReason = 'missing_severity' | 'unknown_severity' | 'unknown_category';

export class ObjectSkip extends Error {
  readonly reason: ObjectSkipReason;
  constructor(reason: ObjectSkipReason, message: string) {
    super(message);
    this.name = 'ObjectSkip';
    this.reason = reason;
  }
}

export interface ItemSkip {
  /** Position of the item (`3` or `0.2.5` through nested `[*]`), empty for object mode. */
  item: string;
  reason: ItemSkipReason;
  /** The config field whose path gave the bad value, e.g. `fields.severity`. */
  field: string;
  message: string;
}

export interface MappedObject {
  /** namespace/name of the object (name alone when cluster-scoped): the reconcile scope. */
  scope: string;
  drafts: ObservationDraft[];
  /** Items the match rules dropped (not an error). */
  unmatched: number;
  skipped: ItemSkip[];
}

const CATEGORIES = new Set(['security', 'compliance', 'performance', 'operations', 'cost']);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The reconcile scope of an object: `namespace/name`, or `name` when cluster-scoped; undefined without a name. */
export function scopeOf(obj: unknown): string | undefined {
  const meta = isObject(obj) ? obj.metadata : undefined;
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') return undefined;
  return typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** The parsed JSON document held in `data[key]` (or base64 `binaryData[key]`) of a ConfigMap-like object. */
export function readDocument(obj: Obj, key: string): unknown {
  const data = obj.data;
  const binary = obj.binaryData;
  let raw: string | undefined;
  let where = `data["${key}"]`;
  if (isObject(data) && typeof data[key] === 'string') raw = data[key] as string;
  else if (isObject(binary) && typeof binary[key] === 'string') {
    raw = Buffer.from(binary[key] as string, 'base64').toString('utf8');
    where = `binaryData["${key}"]`;
  }
  if (raw === undefined) throw new ObjectSkip('no_document', `no key "${key}" in data or binaryData`);
  try {
    return JSON.parse(raw);
  } catch (err) {
    // V8 quotes part of the input in some messages; logs never carry payload text.
    const why = (err as Error).message.replace(/,? (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '');
    throw new ObjectSkip('invalid_document', `${where} is not valid JSON: ${why}`);
  }
}

/** The object as details: without managedFields and the last-applied annotation (bulky, never a finding). */
function objectDetails(obj: Obj): Obj {
  const meta = obj.metadata;
  if (!isObject(meta)) return obj;
  const { managedFields: _m, ...rest } = meta;
  const ann = rest.annotations;
  if (isObject(ann) && 'kubectl.kubernetes.io/last-applied-configuration' in ann) {
    const { 'kubectl.kubernetes.io/last-applied-configuration': _l, ...others } = ann;
    rest.annotations = others;
  }
  return { ...obj, metadata: rest };
}

function matches(ctx: PathContext, rules: readonly CompiledMatch[]): boolean {
  for (const rule of rules) {
    const v = readPath(ctx, rule.path);
    const candidates = (Array.isArray(v) ? v : [v]).map(text).filter((s): s is string => s !== undefined);
    const ok = candidates.some(
      (s) =>
        (!rule.values || rule.values.has(s.toLowerCase())) &&
        (!rule.pattern || rule.pattern.test(s.length > 4096 ? s.slice(0, 4096) : s)),
    );
    if (!ok) return false;
  }
  return true;
}

function ownResource(obj: Obj): ResourceRef {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const r: ResourceRef = {};
  if (typeof obj.apiVersion === 'string' && obj.apiVersion) r.apiVersion = obj.apiVersion;
  if (typeof obj.kind === 'string' && obj.kind) r.kind = obj.kind;
  if (typeof meta.name === 'string' && meta.name) r.name = meta.name;
  if (typeof meta.namespace === 'string' && meta.namespace) r.namespace = meta.namespace;
  return r;
}

/** Map one object. Throws ObjectSkip when the object as a whole cannot be read. */
export function mapObject(
  obj: unknown,
  cfg: CompiledConfig,
  severityOf: (v: unknown) => Severity | undefined,
  opts: { apiVersion?: string } = {},
): MappedObject {
  const scope = scopeOf(obj);
  if (!scope || !isObject(obj)) throw new ObjectSkip('no_name', 'the object has no metadata.name');
  const document = cfg.jsonDocument ? readDocument(obj, cfg.jsonDocument.key) : obj;
  const base: PathContext = { item: document, object: obj, document };
  let items: { item: unknown; ctx: PathContext; index: string }[];
  if (cfg.items) {
    try {
      items = expandItems(base, cfg.items, cfg.maxItems);
    } catch (err) {
      if (err instanceof ItemsShapeError) throw new ObjectSkip('items_shape', `itemsField: ${err.message}`);
      if (err instanceof RangeError)
        throw new ObjectSkip('too_many_items', `itemsField selects more than maxItems (${cfg.maxItems}) items`);
      throw err;
    }
  } else items = [{ item: document, ctx: base, index: '' }];

  const self = ownResource(obj);
  if (!self.apiVersion && opts.apiVersion) self.apiVersion = opts.apiVersion;
  const out: MappedObject = { scope, drafts: [], unmatched: 0, skipped: [] };
  for (const { item, ctx, index } of items) {
    if (cfg.match.length > 0 && !matches(ctx, cfg.match)) {
      out.unmatched++;
      continue;
    }
    const r = mapItem(item, ctx, cfg, severityOf, { scope, self, itemsMode: cfg.items !== undefined });
    if ('reason' in r) out.skipped.push({ ...r, item: index });
    else out.drafts.push(r);
  }
  return out;
}

function mapItem(
  item: unknown,
  ctx: PathContext,
  cfg: CompiledConfig,
  severityOf: (v: unknown) => Severity | undefined,
  o: { scope: string; self: ResourceRef; itemsMode: boolean },
): ObservationDraft | Omit<ItemSkip, 'item'> {
  const get = (p: ParsedPath | undefined) => (p ? readPath(ctx, p) : undefined);
  const f = cfg.fields;
  const d = cfg.defaults;

  // severity: the value at fields.severity through severityMap, then the host's aliases; else defaults.severity.
  const rawSeverity = text(get(f.severity));
  let severity: Severity | undefined;
  if (rawSeverity !== undefined) {
    severity = cfg.severityMap.get(rawSeverity.toLowerCase()) ?? severityOf(rawSeverity);
    if (!severity)
      return {
        reason: 'unknown_severity',
        field: 'fields.severity',
        message: `unknown severity ${JSON.stringify(rawSeverity.slice(0, 64))} at '${f.severity.text}': map it in config.severityMap`,
      };
  } else {
    severity = d.severity as Severity | undefined;
    if (!severity)
      return {
        reason: 'missing_severity',
        field: 'fields.severity',
        message: `no severity at '${f.severity.text}' and no config.defaults.severity`,
      };
  }

  const category = text(get(f.category)) ?? d.category;
  if (category !== undefined && !CATEGORIES.has(category.trim().toLowerCase())) {
    return {
      reason: 'unknown_category',
      field: 'fields.category',
      message: `unknown category ${JSON.stringify(category.slice(0, 64))} at '${f.category.text}': use security, compliance, performance, operations or cost`,
    };
  }

  const resource = cfg.customResource ? configuredResource(get, cfg) : { ...o.self };
  const fallbackTitle = `${o.self.kind ?? 'object'} ${o.scope}`;
  const title = nonBlank(text(get(f.title))) ?? nonBlank(d.title) ?? fallbackTitle;
  const draft: ObservationDraft = { severity, title };
  const message = text(get(f.message)) ?? d.message;
  if (message !== undefined && message !== '') draft.message = message;
  if (category !== undefined) draft.category = category.trim().toLowerCase();
  const eventType = nonBlank(text(get(f.eventType))) ?? d.eventType;
  if (eventType !== undefined) draft.eventType = eventType;
  if (Object.keys(resource).length > 0) draft.resource = resource;

  const at = get(f.detectedAt);
  if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) draft.detectedAt = at;

  const details = detailsOf(item, ctx, cfg, o.itemsMode);
  if (details) draft.details = details;

  draft.fingerprint = fingerprintOf(draft, item, get, cfg, o);
  return draft;
}

function nonBlank(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== '' ? s : undefined;
}

function configuredResource(get: (p: ParsedPath | undefined) => unknown, cfg: CompiledConfig): ResourceRef {
  const f = cfg.fields;
  const d = cfg.defaults;
  const base = f.resource ? get(f.resource) : undefined;
  const from = (k: keyof ResourceRef) => (isObject(base) ? text(base[k]) : undefined);
  const pick = (k: keyof ResourceRef, p: ParsedPath | undefined, dflt: string | undefined) =>
    nonBlank(text(get(p))) ?? nonBlank(from(k)) ?? dflt;
  const r: ResourceRef = {};
  const apiVersion = pick('apiVersion', f.resourceApiVersion, d.resourceApiVersion);
  const kind = pick('kind', f.resourceKind, d.resourceKind);
  const name = pick('name', f.resourceName, d.resourceName);
  const namespace = pick('namespace', f.resourceNamespace, d.resourceNamespace);
  if (apiVersion !== undefined) r.apiVersion = apiVersion;
  if (kind !== undefined) r.kind = kind;
  if (name !== undefined) r.name = name;
  if (namespace !== undefined) r.namespace = namespace;
  return r;
}

function detailsOf(item: unknown, ctx: PathContext, cfg: CompiledConfig, itemsMode: boolean): Obj | undefined {
  const spec = cfg.fields.details;
  if (spec === undefined) {
    if (!itemsMode && !cfg.jsonDocument) return isObject(item) ? objectDetails(item) : undefined;
    return isObject(item) ? item : item === undefined ? undefined : { value: item };
  }
  if (!Array.isArray(spec)) {
    const v = readPath(ctx, spec as ParsedPath);
    if (v === undefined) return undefined;
    return isObject(v) ? v : { value: v };
  }
  const out: Obj = {};
  for (const [name, p] of spec) {
    const v = readPath(ctx, p);
    if (v !== undefined) out[name] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The finding's identity. Configured paths → their values (the finding is the same while they are); otherwise a
 * hash of what the Observation says (severity, category, eventType, title, message, resource — never the object's
 * volatile parts such as resourceVersion or counts) plus, for items, the item itself. With resolve on, the scope is
 * part of it: resolution tracks findings per object, so two objects never share an Observation.
 */
function fingerprintOf(
  draft: ObservationDraft,
  item: unknown,
  get: (p: ParsedPath | undefined) => unknown,
  cfg: CompiledConfig,
  o: { scope: string; itemsMode: boolean },
): string {
  const prefix = cfg.resolve ? `${o.scope}\n` : '';
  if (cfg.fields.fingerprint) {
    const values = cfg.fields.fingerprint.map((p) => get(p));
    if (values.some((v) => v !== undefined && v !== null && v !== '')) {
      return `${prefix}${values.map((v) => (typeof v === 'string' ? v : canonicalJson(v))).join('\n')}`;
    }
  }
  const basis = canonicalJson({
    severity: draft.severity,
    category: draft.category,
    eventType: draft.eventType,
    title: draft.title,
    message: draft.message,
    resource: draft.resource,
    ...(o.itemsMode || cfg.jsonDocument ? { item: item ?? null } : {}),
  });
  return `${prefix}sha256:${createHash('sha256').update(basis).digest('hex')}`;
}
