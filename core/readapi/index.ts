/**
 * The read index: every Observation this replica can see, in memory, shaped for the read API (list with filters,
 * stable sort and cursor pagination, summaries, the per-resource view, the live stream). It holds a slim record
 * per Observation (no `details`, no managedFields): a finding's full document is fetched from its source of truth
 * (the store, or a GET of one object) only for the detail view.
 *
 * Feeds: standalone mode loads the store and adds what the sink writes (core/readapi/store-feed.ts); kubernetes
 * mode is a list + watch of the Observations (core/readapi/kube-feed.ts). Queries never touch the API server.
 *
 * Ordering: two sorted arrays (by detection time, by severity then time), kept sorted on every change by binary
 * search and splice, so a page is a binary search to the cursor and a walk until the page is full. The tie-break
 * is `namespace/name`, unique, so the order is total and a cursor never skips or repeats an item.
 */

import { ZwError } from '../api/index.ts';
import { SEVERITIES } from '../api/types.ts';
import { ownerChain, type ResourceKey, resourceKey } from './owners.ts';
import { TextIndex } from './text-index.ts';

export const SEVERITY_RANK: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(SEVERITIES.map((s, i) => [s, SEVERITIES.length - i])),
);

/** What the index keeps of one Observation. */
export interface Entry {
  /** `namespace/name`: unique. */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly source: string;
  readonly severity: string;
  readonly category: string;
  readonly eventType: string;
  readonly title: string;
  /** spec.message (≤ 512 characters); the index files one shared instance per distinct message. */
  message: string | undefined;
  readonly resource: { apiVersion?: string; kind?: string; name?: string; namespace?: string } | undefined;
  readonly fingerprint: string;
  /** spec.detectedAt, ms. */
  readonly detectedAt: number;
  /** The earliest report's event time (status.firstSeen, else spec.detectedAt; never after lastSeen), ms. */
  readonly firstSeen: number;
  /** How often the source reported it (status.count, ADR 0017; 1 when never repeated). */
  readonly count: number;
  /** The latest report (status.lastSeen, else spec.detectedAt), ms. */
  readonly lastSeen: number;
  readonly phase: 'Active' | 'Resolved';
  readonly resolvedAt: number | undefined;
  readonly reason: string | undefined;
  /** ms; standalone only (kubernetes mode deletes by GC and the watch tells us). */
  readonly expiresAt: number | undefined;
  /**
   * What `q` searches, lower-cased, in two parts (see searchText): `folded` is the title, '\n', then resource kind,
   * resource name, namespace, name and event type joined by '\n'; `titleEnd` is where the title ends in it; `mtext`
   * is the message, kept apart because many findings share one (the index searches each distinct message once).
   */
  readonly folded: string;
  readonly titleEnd: number;
  mtext: string;
  readonly rank: number;
  /** The topmost owner the resource's name tells (Pod → its Deployment), when it is not the resource itself. */
  readonly owner: ResourceKey | undefined;
  /**
   * Small integer ids of the source, namespace and topmost owner, assigned by the ReadIndex the entry is filed in
   * (-1 before): the summary counts into typed arrays by id instead of hashing strings per Observation.
   */
  sid: number;
  nid: number;
  tid: number;
  /** The message's id in the index (-1 before, and without a message). */
  mid: number;
  /** Where core/readapi/text-index.ts keeps its text (-1 before). */
  slot: number;
}

/** An Observation document, as the store or the API server holds it (only the fields read here). */
export interface ObservationDoc {
  metadata?: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  spec?: {
    source?: string;
    severity?: string;
    category?: string;
    eventType?: string;
    title?: string;
    message?: string;
    resource?: { apiVersion?: string; kind?: string; name?: string; namespace?: string };
    fingerprint?: string;
    detectedAt?: string;
    ttlSecondsAfterCreation?: number;
  };
  status?: {
    phase?: string;
    resolvedAt?: string;
    reason?: string;
    count?: number;
    firstSeen?: string;
    lastSeen?: string;
  };
}

const MAX_MESSAGE = 512;

function ms(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = Date.parse(v);
  return Number.isNaN(n) ? undefined : n;
}

/** Builds an Entry from a document in either shape (store: top-level name/namespace; Kubernetes: metadata). */
export function toEntry(doc: ObservationDoc, createdAt?: number): Entry | undefined {
  const namespace = doc.metadata?.namespace ?? doc.namespace;
  const name = doc.metadata?.name ?? doc.name;
  const spec = doc.spec;
  if (!namespace || !name || !spec) return undefined;
  const detectedAt = ms(spec.detectedAt) ?? createdAt ?? 0;
  // Event times, as status.firstSeen/lastSeen are (ADR 0017, docs/CONFIGURATION.md), which are absent until the first
  // repeat: spec.detectedAt until then. Never when the Observation was written (the first-seen annotation): a finding
  // seen once would show a firstSeen after its lastSeen, and summary's hourly.new would count it by arrival.
  const lastSeen = ms(doc.status?.lastSeen) ?? detectedAt;
  const firstSeen = Math.min(ms(doc.status?.firstSeen) ?? detectedAt, lastSeen);
  const count = doc.status?.count;
  const severity = spec.severity ?? 'info';
  const message = spec.message === undefined ? undefined : spec.message.slice(0, MAX_MESSAGE);
  const r = spec.resource;
  const resource = r && (r.kind || r.name) ? { ...r } : undefined;
  const title = spec.title ?? '';
  // Lower-casing parts alone equals lower-casing them joined by '\n', which bounds the one context-dependent mapping
  // (final sigma) as the ends of a string do: so the title ends at its folded length, and the message folded alone
  // fits in after it. The property test checks searchText against the whole joined text lower-cased.
  const folded = [title, resource?.kind ?? '', resource?.name ?? '', namespace, name, spec.eventType ?? '']
    .join('\n')
    .toLowerCase();
  const titleEnd = title.toLowerCase().length;
  const ttl = spec.ttlSecondsAfterCreation;
  let owner: ResourceKey | undefined;
  if (resource?.name) {
    const chain = ownerChain({
      kind: resource.kind || 'Unknown',
      namespace: resource.namespace || namespace,
      name: resource.name,
    });
    if (chain.length > 1) owner = chain.at(-1);
  }
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    source: spec.source ?? 'unknown',
    severity,
    category: spec.category ?? 'security',
    eventType: spec.eventType ?? 'custom_event',
    title,
    message,
    resource,
    fingerprint: spec.fingerprint ?? name,
    detectedAt,
    firstSeen,
    count: Number.isInteger(count) && (count as number) > 0 ? (count as number) : 1,
    lastSeen,
    phase: doc.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
    resolvedAt: ms(doc.status?.resolvedAt),
    reason: doc.status?.reason,
    expiresAt: createdAt !== undefined && typeof ttl === 'number' ? createdAt + ttl * 1000 : undefined,
    folded,
    titleEnd,
    mtext: (message ?? '').toLowerCase(),
    rank: SEVERITY_RANK[severity] ?? 0,
    owner,
    sid: -1,
    nid: -1,
    tid: -1,
    mid: -1,
    slot: -1,
  };
}

/**
 * The text `q` is matched in, lower-cased: title, message, resource kind, resource name, namespace, name, event
 * type, joined by '\n'. Built on demand (only a query holding a '\n' needs it whole).
 */
export function searchText(e: Entry): string {
  return `${e.folded.slice(0, e.titleEnd)}\n${e.mtext}${e.folded.slice(e.titleEnd)}`;
}

/** The free-text query as it is matched: trimmed, lower-cased; undefined when empty. */
export function foldQuery(q: string | undefined): string | undefined {
  return q?.trim().toLowerCase() || undefined;
}

/**
 * Whether searchText(e) contains q (already folded), one entry at a time (the live stream; the index searches with
 * core/readapi/text-index.ts). A q without '\n' lies within one '\n'-free stretch of the text, so within `folded`
 * or within `mtext`: the two are searched apart.
 */
export function textMatcher(q: string): (e: Entry) => boolean {
  if (q.includes('\n')) return (e) => searchText(e).includes(q);
  return (e) => e.folded.includes(q) || e.mtext.includes(q);
}

export type SortKey = 'detectedAt' | '-detectedAt' | 'severity' | '-severity';
export const SORT_KEYS: readonly SortKey[] = ['-detectedAt', 'detectedAt', '-severity', 'severity'];

type Compare = (a: Cursorish, b: Cursorish) => number;
interface Cursorish {
  key: string;
  detectedAt: number;
  rank: number;
}

const byKey = (a: Cursorish, b: Cursorish) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const byTime: Compare = (a, b) => a.detectedAt - b.detectedAt || byKey(a, b);
const bySeverity: Compare = (a, b) => a.rank - b.rank || a.detectedAt - b.detectedAt || byKey(a, b);

/** An array kept in `compare` order. */
class Sorted {
  readonly items: Entry[] = [];
  readonly compare: Compare;
  constructor(compare: Compare) {
    this.compare = compare;
  }
  /** First index whose item is > probe (after = true) or >= probe. */
  bound(probe: Cursorish, after: boolean): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compare(this.items[mid]!, probe);
      if (c < 0 || (after && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  insert(e: Entry): void {
    const i = this.bound(e, false);
    if (i === this.items.length) this.items.push(e);
    else this.items.splice(i, 0, e);
  }
  remove(e: Entry): void {
    const i = this.bound(e, false);
    if (this.items[i]?.key === e.key) this.items.splice(i, 1);
  }
}

export interface Filter {
  source?: readonly string[];
  severity?: readonly string[];
  category?: readonly string[];
  namespace?: readonly string[];
  kind?: readonly string[];
  /** Resource name (exact). */
  resource?: string;
  phase?: 'Active' | 'Resolved';
  /** detectedAt range, ms (inclusive since, exclusive until). */
  since?: number;
  until?: number;
  /** Free text, matched case-insensitively in title, message, resource, names. */
  q?: string;
}

/** Which namespaces the caller may read: all, or a set. */
export type Visibility = { all: true } | { all: false; namespaces: ReadonlySet<string> };
export const SEE_ALL: Visibility = Object.freeze({ all: true });

export interface Page {
  items: Entry[];
  /** Matches of the filter (visible to the caller), over all pages. */
  total: number;
  next: string | undefined;
}

export class CursorError extends ZwError {
  constructor(message: string) {
    super('ZW_ERR_BAD_QUERY', message);
    this.name = 'CursorError';
  }
}

function encodeCursor(e: Cursorish): string {
  return Buffer.from(JSON.stringify([e.detectedAt, e.rank, e.key])).toString('base64url');
}

function decodeCursor(s: string): Cursorish {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      Number.isFinite(v[0]) &&
      Number.isFinite(v[1]) &&
      typeof v[2] === 'string'
    )
      return { detectedAt: v[0], rank: v[1], key: v[2] };
  } catch {}
  throw new CursorError('cursor is not one this API returned');
}

export function matcher(f: Filter, vis: Visibility): (e: Entry) => boolean {
  const set = (xs?: readonly string[]) => (xs?.length ? new Set(xs) : undefined);
  const source = set(f.source);
  const severity = set(f.severity);
  const category = set(f.category);
  const namespace = set(f.namespace);
  const kind = set(f.kind?.map((k) => k.toLowerCase()));
  const q = foldQuery(f.q);
  const text = q === undefined ? undefined : textMatcher(q);
  const allowed = vis.all ? undefined : vis.namespaces;
  return (e) =>
    (!allowed || allowed.has(e.namespace)) &&
    (!source || source.has(e.source)) &&
    (!severity || severity.has(e.severity)) &&
    (!category || category.has(e.category)) &&
    (!namespace || namespace.has(e.namespace)) &&
    (!kind || kind.has((e.resource?.kind ?? '').toLowerCase())) &&
    (f.resource === undefined || e.resource?.name === f.resource) &&
    (f.phase === undefined || e.phase === f.phase) &&
    (f.since === undefined || e.detectedAt >= f.since) &&
    (f.until === undefined || e.detectedAt < f.until) &&
    (!text || text(e));
}

export type ChangeEvent = { type: 'upsert'; entry: Entry } | { type: 'delete'; entry: Entry };

export interface Summary {
  total: number;
  active: number;
  resolved: number;
  bySeveritySource: Record<string, Record<string, number>>;
  bySeverity: Record<string, number>;
  bySource: Record<string, number>;
  byNamespace: Record<string, number>;
  topResources: { kind: string; namespace: string; name: string; count: number; worst: string }[];
  /** Per hour (start, ms) over the window: new findings by severity and by source, and resolved. */
  hourly: {
    hour: number;
    new: number;
    resolved: number;
    bySeverity: Record<string, number>;
    bySource: Record<string, number>;
  }[];
}

const HOUR = 3_600_000;

/** Names ↔ small integer ids, counted by reference: an id is reused once nothing in the index uses its name. */
class Ids<V> {
  readonly #ids = new Map<string, number>();
  readonly #keys: (string | undefined)[] = [];
  readonly #refs: number[] = [];
  readonly #free: number[] = [];
  /** What an id stands for (undefined when free). */
  readonly values: (V | undefined)[] = [];
  acquire(key: string, value: V): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#keys.length;
      this.#ids.set(key, id);
      this.#keys[id] = key;
      this.values[id] = value;
      this.#refs[id] = 0;
    }
    this.#refs[id]!++;
    return id;
  }
  release(id: number): void {
    if (id < 0 || --this.#refs[id]! > 0) return;
    this.#ids.delete(this.#keys[id]!);
    this.#keys[id] = undefined;
    this.values[id] = undefined;
    this.#free.push(id);
  }
  /** The names in use. */
  keys(): IterableIterator<string> {
    return this.#ids.keys();
  }
  /** One past the largest id in use or free. */
  get bound(): number {
    return this.#keys.length;
  }
}

/** Name, then namespace, then kind: a total order of resources. */
export function byResource(a: ResourceKey, b: ResourceKey): number {
  return a.name.localeCompare(b.name) || a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind);
}

/** Severity names by rank (1 = info … 5 = critical); rank 0 is a severity outside SEVERITIES. */
const SEVERITY_OF_RANK: readonly string[] = ['', ...[...SEVERITIES].reverse()];

export class ReadIndex {
  readonly #entries = new Map<string, Entry>();
  readonly #byTime = new Sorted(byTime);
  readonly #bySeverity = new Sorted(bySeverity);
  /** fingerprint → keys (the same finding across dedup windows). */
  readonly #byFingerprint = new Map<string, Set<string>>();
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  readonly #sources = new Ids<string>();
  readonly #namespaces = new Ids<string>();
  readonly #owners = new Ids<ResourceKey>();
  /** Distinct messages (as written, and lower-cased): one instance each, searched once per query. */
  readonly #messages = new Ids<{ message: string; mtext: string }>();
  #synced = false;
  readonly #text = new TextIndex();

  get size(): number {
    return this.#entries.size;
  }

  /** False until the feed's first complete load (the API answers 503 until then). */
  get synced(): boolean {
    return this.#synced;
  }

  markSynced(): void {
    this.#synced = true;
  }

  upsert(e: Entry): void {
    const old = this.#entries.get(e.key);
    if (old) this.#unfile(old);
    e.sid = this.#sources.acquire(e.source, e.source);
    e.nid = this.#namespaces.acquire(e.namespace, e.namespace);
    const top = e.owner ?? (e.resource?.name ? resourceKey(e) : undefined);
    e.tid = top ? this.#owners.acquire(`${top.kind}\n${top.namespace}\n${top.name}`, top) : -1;
    if (e.message !== undefined) {
      e.mid = this.#messages.acquire(e.message, { message: e.message, mtext: e.mtext });
      const m = this.#messages.values[e.mid]!;
      e.message = m.message;
      e.mtext = m.mtext;
    }
    this.#text.add(e);
    this.#entries.set(e.key, e);
    this.#byTime.insert(e);
    this.#bySeverity.insert(e);
    const fp = this.#byFingerprint.get(e.fingerprint);
    if (fp) fp.add(e.key);
    else this.#byFingerprint.set(e.fingerprint, new Set([e.key]));
    this.#emit({ type: 'upsert', entry: e });
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#unfile(old);
    this.#entries.delete(key);
    this.#emit({ type: 'delete', entry: old });
  }

  /** Drops what expired (standalone TTL; the store deletes the rows on its own schedule). */
  expire(now = Date.now()): number {
    let n = 0;
    for (const e of [...this.#entries.values()])
      if (e.expiresAt !== undefined && e.expiresAt <= now) {
        this.delete(e.key);
        n++;
      }
    return n;
  }

  /** Replaces everything (a relist): deletes what is gone, upserts the rest. */
  replaceAll(entries: Iterable<Entry>): void {
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.key);
      const old = this.#entries.get(e.key);
      if (!old || !sameEntry(old, e)) this.upsert(e);
    }
    for (const key of [...this.#entries.keys()]) if (!seen.has(key)) this.delete(key);
  }

  #unfile(e: Entry): void {
    this.#sources.release(e.sid);
    this.#namespaces.release(e.nid);
    this.#owners.release(e.tid);
    this.#messages.release(e.mid);
    this.#text.remove(e);
    e.sid = e.nid = e.tid = e.mid = -1;
    this.#byTime.remove(e);
    this.#bySeverity.remove(e);
    const fp = this.#byFingerprint.get(e.fingerprint);
    fp?.delete(e.key);
    if (fp?.size === 0) this.#byFingerprint.delete(e.fingerprint);
  }

  #emit(ev: ChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(ev);
      } catch {}
    }
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(namespace: string, name: string): Entry | undefined {
    return this.#entries.get(`${namespace}/${name}`);
  }

  /** The namespaces of the Observations held (as many as there are namespaces, not Observations, to compute). */
  namespaces(): Set<string> {
    return new Set(this.#namespaces.keys());
  }

  /**
   * The same finding across dedup windows: how often it was reported (the sum of each Observation's status.count),
   * first and last seen.
   */
  occurrences(e: Entry): { count: number; firstSeen: number; lastSeen: number; observations: number } {
    const keys = this.#byFingerprint.get(e.fingerprint) ?? new Set([e.key]);
    let count = 0;
    let observations = 0;
    let first = e.firstSeen;
    let last = e.lastSeen;
    for (const k of keys) {
      const o = this.#entries.get(k);
      if (!o || o.source !== e.source) continue;
      count += o.count;
      observations++;
      first = Math.min(first, o.firstSeen);
      last = Math.max(last, o.lastSeen);
    }
    return { count, firstSeen: first, lastSeen: last, observations };
  }

  /**
   * The matcher of a list or summary: a free-text query is answered by the text index first (each distinct message
   * searched once, the rest as one string per chunk), and the walk reads only the result, by slot.
   */
  #matcher(filter: Filter, vis: Visibility): (e: Entry) => boolean {
    const q = foldQuery(filter.q);
    if (q === undefined || q.includes('\n') || q.includes('\0')) return matcher(filter, vis);
    const messages = this.#messages.values;
    const messageHits = new Uint8Array(messages.length);
    for (let i = 0; i < messages.length; i++) if (messages[i]?.mtext.includes(q)) messageHits[i] = 1;
    const hits = this.#text.search(q, messageHits);
    const { q: _, ...rest } = filter;
    const others = matcher(rest, vis);
    return (e) => hits[e.slot] === 1 && others(e);
  }

  list(filter: Filter, vis: Visibility, opts: { sort?: SortKey; limit: number; cursor?: string }): Page {
    const sort = opts.sort ?? '-detectedAt';
    const list = sort.endsWith('severity') ? this.#bySeverity : this.#byTime;
    const desc = sort.startsWith('-');
    const match = this.#matcher(filter, vis);
    const items: Entry[] = [];
    const arr = list.items;
    let total = 0;
    let next: string | undefined;
    if (desc) {
      const start = opts.cursor ? list.bound(decodeCursor(opts.cursor), false) - 1 : arr.length - 1;
      // Count everything that matches; collect the page from the cursor on.
      for (let i = arr.length - 1; i >= 0; i--) {
        const e = arr[i]!;
        if (!match(e)) continue;
        total++;
        if (i <= start && items.length < opts.limit) items.push(e);
        else if (i <= start && next === undefined) next = encodeCursor(items[items.length - 1]!);
      }
    } else {
      const start = opts.cursor ? list.bound(decodeCursor(opts.cursor), true) : 0;
      for (let i = 0; i < arr.length; i++) {
        const e = arr[i]!;
        if (!match(e)) continue;
        total++;
        if (i >= start && items.length < opts.limit) items.push(e);
        else if (i >= start && next === undefined) next = encodeCursor(items[items.length - 1]!);
      }
    }
    return { items, total, next };
  }

  /**
   * One pass over the index counting into typed arrays by the entries' small integer ids (severity rank, source,
   * namespace, topmost owner, hour); the names are looked up once per id at the end.
   */
  summary(filter: Filter, vis: Visibility, opts: { now?: number; hours?: number; top?: number } = {}): Summary {
    const now = opts.now ?? Date.now();
    const hours = opts.hours ?? 24;
    const firstHour = Math.floor(now / HOUR) * HOUR - (hours - 1) * HOUR;
    const endHour = firstHour + hours * HOUR;
    const match = this.#matcher(filter, vis);
    const S = this.#sources.bound;
    const R = SEVERITY_OF_RANK.length;
    const sevSrc = new Int32Array(R * S);
    const byNs = new Int32Array(this.#namespaces.bound);
    const topCount = new Int32Array(this.#owners.bound);
    const topRank = new Int8Array(this.#owners.bound);
    const hourNew = new Int32Array(hours);
    const hourResolved = new Int32Array(hours);
    const hourSev = new Int32Array(hours * R);
    const hourSrc = new Int32Array(hours * S);
    // Severities outside SEVERITIES (rank 0; the CRD and the pipeline refuse them, old data may hold some).
    const odd: Entry[] = [];
    let total = 0;
    let resolved = 0;
    for (const e of this.#entries.values()) {
      if (!match(e)) continue;
      total++;
      const rank = e.rank;
      if (rank === 0) odd.push(e);
      sevSrc[rank * S + e.sid]!++;
      byNs[e.nid]!++;
      if (e.phase === 'Resolved') resolved++;
      else if (e.tid >= 0) {
        topCount[e.tid]!++;
        if (rank > topRank[e.tid]!) topRank[e.tid] = rank;
      }
      const f = e.firstSeen;
      if (f >= firstHour && f < endHour) {
        const h = Math.floor((f - firstHour) / HOUR);
        hourNew[h]!++;
        hourSev[h * R + rank]!++;
        hourSrc[h * S + e.sid]!++;
      }
      const r = e.resolvedAt;
      if (r !== undefined && r >= firstHour && r < endHour) hourResolved[Math.floor((r - firstHour) / HOUR)]!++;
    }

    const sources = this.#sources.values;
    const add = (o: Record<string, number>, k: string, n: number) => {
      if (n) o[k] = (o[k] ?? 0) + n;
    };
    const s: Summary = {
      total,
      active: total - resolved,
      resolved,
      bySeveritySource: {},
      bySeverity: {},
      bySource: {},
      byNamespace: {},
      topResources: [],
      hourly: [],
    };
    for (let rank = R - 1; rank >= 1; rank--)
      for (let sid = 0; sid < S; sid++) {
        const n = sevSrc[rank * S + sid]!;
        if (!n) continue;
        const sev = SEVERITY_OF_RANK[rank]!;
        s.bySeveritySource[sev] ??= {};
        add(s.bySeveritySource[sev], sources[sid]!, n);
        add(s.bySeverity, sev, n);
        add(s.bySource, sources[sid]!, n);
      }
    for (const e of odd) {
      s.bySeveritySource[e.severity] ??= {};
      add(s.bySeveritySource[e.severity]!, e.source, 1);
      add(s.bySeverity, e.severity, 1);
      add(s.bySource, e.source, 1);
    }
    const nsNames = this.#namespaces.values;
    for (let nid = 0; nid < byNs.length; nid++) add(s.byNamespace, nsNames[nid]!, byNs[nid]!);
    const oddAt = (h: number) =>
      odd.filter((e) => e.firstSeen >= firstHour + h * HOUR && e.firstSeen < firstHour + (h + 1) * HOUR);
    for (let h = 0; h < hours; h++) {
      const bySeverity: Record<string, number> = {};
      const bySource: Record<string, number> = {};
      if (hourNew[h]) {
        for (let rank = R - 1; rank >= 1; rank--) add(bySeverity, SEVERITY_OF_RANK[rank]!, hourSev[h * R + rank]!);
        if (hourSev[h * R]) for (const e of oddAt(h)) add(bySeverity, e.severity, 1);
        for (let sid = 0; sid < S; sid++) add(bySource, sources[sid]!, hourSrc[h * S + sid]!);
      }
      s.hourly.push({ hour: firstHour + h * HOUR, new: hourNew[h]!, resolved: hourResolved[h]!, bySeverity, bySource });
    }
    const owners = this.#owners.values;
    const top: { tid: number; count: number; rank: number }[] = [];
    for (let tid = 0; tid < topCount.length; tid++)
      if (topCount[tid]) top.push({ tid, count: topCount[tid]!, rank: topRank[tid]! });
    s.topResources = top
      .sort((a, b) => b.rank - a.rank || b.count - a.count || byResource(owners[a.tid]!, owners[b.tid]!))
      .slice(0, opts.top ?? 10)
      .map(({ tid, count, rank }) => {
        const { kind, namespace, name } = owners[tid]!;
        return { kind, namespace, name, count, worst: SEVERITY_OF_RANK[rank] || 'info' };
      });
    return s;
  }

  /**
   * Findings about one object and what it owns, as the sources name them: asking for Deployment `payments`
   * also returns the findings about its ReplicaSets (`payments-<hash>`) and Pods (`payments-<hash>-<id>`).
   */
  resource(target: ResourceKey, vis: Visibility): { entries: Entry[]; related: ResourceKey[] } {
    if (!vis.all && !vis.namespaces.has(target.namespace)) return { entries: [], related: [] };
    const entries: Entry[] = [];
    const related = new Map<string, ResourceKey>();
    const want = target.kind.toLowerCase();
    for (const e of this.#byTime.items) {
      const r = e.resource;
      // Owners' names are prefixes of what they own (Deployment `a` → ReplicaSet `a-<hash>` → Pod `a-<hash>-<id>`).
      if (!r?.name?.startsWith(target.name) || (r.namespace || e.namespace) !== target.namespace) continue;
      const chain = ownerChain(resourceKey(e));
      if (!chain.some((c) => c.kind.toLowerCase() === want && c.name === target.name)) continue;
      entries.push(e);
      for (const c of chain) related.set(`${c.kind}/${c.name}`, c);
    }
    entries.reverse();
    return { entries, related: [...related.values()] };
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a.detectedAt === b.detectedAt &&
    a.phase === b.phase &&
    a.resolvedAt === b.resolvedAt &&
    a.severity === b.severity &&
    a.title === b.title &&
    a.firstSeen === b.firstSeen &&
    a.count === b.count &&
    a.lastSeen === b.lastSeen &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.category === b.category
  );
}
