/**
 * Small pure helpers plugins (and the host) would otherwise each write again. Exported from the plugin API since
 * 1.2.0; the host uses the same functions, so a plugin's canonical JSON is the host's.
 */
import type { IngesterView } from './types.ts';

/** JSON with object keys sorted at every level (undefined members dropped), so equal content hashes equally. */
export function canonicalJson(value: unknown): string {
  // Hot path (every finding is hashed with it, audit details are large): no intermediate arrays of entries,
  // strings and numbers written without a recursive call, quoted keys reused. The output is the same, byte for byte.
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
  return typeof v === 'string' ? JSON.stringify(v) : canonicalJson(v);
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
