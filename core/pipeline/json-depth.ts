/**
 * Nesting depth of parsed JSON, measured without recursion. JSON.parse builds arbitrarily deep values, but
 * everything after it that walks them recursively (JSON.stringify, canonical JSON for fingerprints, the sinks)
 * overflows the stack somewhere past a few thousand levels. Bodies and details deeper than MAX_JSON_DEPTH are
 * refused up front, naming the path where the limit was crossed.
 */

/** Deepest accepted nesting of objects and arrays (a top-level object is depth 1). */
export const MAX_JSON_DEPTH = 100;

/** Longest path reported in an error: the path of a 10,000-level value is not useful in full. */
const MAX_PATH_SEGMENTS = 8;
const MAX_SEGMENT_CHARS = 40;

/**
 * undefined when `value` nests at most `maxDepth` levels; otherwise the dot path (e.g. `details.a.b[0]…`) of the
 * first container found deeper than that, shortened to its first segments.
 */
export function tooDeepPath(value: unknown, maxDepth = MAX_JSON_DEPTH, prefix = ''): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // Hot path (every body and every draft's details): a bounded recursion (at most maxDepth frames, 100 by default)
  // that allocates nothing; the path is only worked out for a value that is too deep.
  if (maxDepth <= 1000 && withinDepth(value, maxDepth)) return undefined;
  // Explicit stack of [value, depth, path segments]: no recursion, so depth itself cannot overflow us.
  const stack: [object, number, string[]][] = [[value, 1, prefix ? [prefix] : []]];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (depth > maxDepth) return formatPath(path);
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [`[${i}]`, x])
      : Object.entries(v).map(([k, x]) => [k, x]);
    for (const [seg, child] of entries) {
      if (child === null || typeof child !== 'object') continue;
      // Only the first segments are kept: memory stays bounded however deep the value is.
      stack.push([child, depth + 1, path.length <= MAX_PATH_SEGMENTS ? [...path, seg] : path]);
    }
  }
  return undefined;
}

/** True when `v` (an object or array, at depth 1) nests at most `left` levels. Never recurses deeper than that. */
function withinDepth(v: object, left: number): boolean {
  if (left < 1) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      if (c !== null && typeof c === 'object' && !withinDepth(c, left - 1)) return false;
    }
    return true;
  }
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const c = (v as Record<string, unknown>)[k];
    if (c !== null && typeof c === 'object' && !withinDepth(c, left - 1)) return false;
  }
  return true;
}

/**
 * For plain JSON data (strings, finite or not numbers, booleans, null, arrays and plain objects, as JSON.parse makes
 * and plugins build) nesting at most `maxDepth` levels: an upper bound of the UTF-8 bytes of `JSON.stringify(value)`,
 * found in one walk that allocates nothing. -1 for anything else (too deep, `toJSON`, class instances, bigint, ...):
 * the caller then takes the exact, slower way. Each UTF-16 code unit of a string is at most 6 bytes of JSON (`\u001f`),
 * a number at most 25 characters.
 */
export function plainJsonBytesBound(value: unknown, maxDepth = MAX_JSON_DEPTH): number {
  if (value === null || typeof value !== 'object') return leafBound(value);
  return maxDepth <= 1000 ? containerBound(value, maxDepth) : -1;
}

function leafBound(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return v.length * 6 + 2;
    case 'number':
      return 25;
    case 'boolean':
      return 5;
    case 'undefined': // dropped from objects, `null` in arrays
    case 'function':
    case 'symbol':
      return 4;
    default:
      return v === null ? 4 : -1; // bigint: JSON.stringify throws
  }
}

function containerBound(v: object, left: number): number {
  if (left < 1) return -1;
  let n = 2;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return -1;
    for (let i = 0; i < v.length; i++) {
      const c: unknown = v[i];
      const b = c !== null && typeof c === 'object' ? containerBound(c, left - 1) : leafBound(c);
      if (b < 0) return -1;
      n += b + 1;
    }
    return n;
  }
  const proto = Object.getPrototypeOf(v);
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in v) return -1;
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const c = (v as Record<string, unknown>)[k];
    const b = c !== null && typeof c === 'object' ? containerBound(c, left - 1) : leafBound(c);
    if (b < 0) return -1;
    n += b + k.length * 6 + 4;
  }
  return n;
}

function formatPath(path: string[]): string {
  const shown = path
    .slice(0, MAX_PATH_SEGMENTS)
    .map((s) => (s.length > MAX_SEGMENT_CHARS ? `${s.slice(0, MAX_SEGMENT_CHARS)}…` : s));
  let out = '';
  for (const s of shown) out += s.startsWith('[') || out === '' ? s : `.${s}`;
  return path.length > MAX_PATH_SEGMENTS ? `${out}…` : out;
}
