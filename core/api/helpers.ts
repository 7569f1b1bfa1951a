/**
 * Small pure helpers plugins (and the host) would otherwise each write again. Exported from the plugin API since
 * 1.2.0; the host uses the same functions, so a plugin's canonical JSON is the host's.
 */
import type { IngesterView } from './types.ts';

/** JSON with object keys sorted at every level (undefined members dropped), so equal content hashes equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Hot path (every finding is hashed with it, audit details are large). Plain data (what JSON.parse makes and
  // plugins build) is written by JSON.stringify once, from the same value with every object's keys in sorted order:
  // the objects whose keys are not are copied in that order, nothing else is. Writing it out piece by piece made a
  // string per member and per separator: 3 KB of garbage per audit event, the largest share (issue #18).
  const sorted = sortedPlain(value);
  return sorted === NOT_PLAIN ? written(value) : JSON.stringify(sorted);
}

/** Marker: the value holds something JSON.stringify would write differently from canonicalJson, or not at all. */
const NOT_PLAIN: unique symbol = Symbol('not plain');

/**
 * `v` itself when its keys are in sorted order at every level, else a copy that has them so (only of the objects and
 * arrays that need it), so that JSON.stringify of it is canonicalJson of `v`; NOT_PLAIN for anything JSON.stringify
 * treats otherwise: `toJSON` (Date), class instances, functions, symbols, bigint, and keys that an object cannot hold
 * in sorted order (integer-like keys are always enumerated first; `__proto__`).
 */
function sortedPlain(v: object): object | typeof NOT_PLAIN {
  if ('toJSON' in v) return NOT_PLAIN;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return NOT_PLAIN;
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      const s = plainMember(c);
      if (s === NOT_PLAIN) return NOT_PLAIN;
      if (s !== c) {
        copy ??= v.slice();
        copy[i] = s;
      }
    }
    return copy ?? v;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  let inOrder = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c0 = k.charCodeAt(0);
    if ((c0 >= 48 && c0 <= 57) || k === '__proto__') return NOT_PLAIN;
    if (i > 0 && keys[i - 1]! > k) inOrder = false;
  }
  if (!inOrder) sortKeys(keys);
  let out: Record<string, unknown> | undefined = inOrder ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c = obj[k];
    const s = plainMember(c);
    if (s === NOT_PLAIN) return NOT_PLAIN;
    if (out === undefined && s !== c) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
    }
    if (out !== undefined) out[k] = s;
  }
  return out ?? obj;
}

function plainMember(c: unknown): unknown {
  switch (typeof c) {
    case 'object':
      return c === null ? c : sortedPlain(c);
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return c;
    default:
      return NOT_PLAIN;
  }
}

/** canonicalJson written out piece by piece: for what sortedPlain cannot vouch for. */
function written(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + member(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(obj));
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${quotedKey(k)}:${member(v)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Sorts keys in place as `Array.prototype.sort()` does (UTF-16 code unit order; keys are distinct), by insertion for
 * the short arrays of findings: V8's sort allocates work arrays on every call, which was a tenth of the garbage of
 * each alert (issue #18).
 */
function sortKeys(keys: string[]): string[] {
  const n = keys.length;
  if (n > 24) return keys.sort();
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function member(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : written(v);
}

/** Object keys repeat across findings (field names): quote each once. Bounded: cleared past 4,096 keys. */
const QUOTED = new Map<string, string>();
function quotedKey(k: string): string {
  let q = QUOTED.get(k);
  if (q === undefined) {
    if (QUOTED.size >= 4096) QUOTED.clear();
    q = JSON.stringify(k);
    if (k.length <= 64) QUOTED.set(k, q);
  }
  return q;
}

/** The message of anything thrown, for a log line: `err.message` for errors, `String(err)` otherwise. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `namespace/name` of an Ingester: the key to keep per-Ingester state under. */
export function ingesterKey(ingester: Pick<IngesterView, 'namespace' | 'name'>): string {
  return `${ingester.namespace}/${ingester.name}`;
}

/** What a value is, for an error message about input: `null`, `an array`, `an object`, `a string`, `a number`, ... */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
