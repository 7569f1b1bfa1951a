/**
 * Field paths: the webhook plugin's `a.b[2].c`, plus what Kubernetes objects and embedded documents need:
 *   - quoted keys for names with dots or slashes: `metadata.labels["app.kubernetes.io/name"]`;
 *   - `[*]` in `itemsField` to flatten nested arrays (`Controls[*].tests[*].results`);
 *   - a leading root: `$object` (the watched Kubernetes object), `$document` (the parsed JSON document, or the
 *     object when there is none), `$item` (the item itself, the default), `$parent` (the element of the enclosing
 *     `[*]`; repeat for further levels: `$parent.$parent.id`).
 *
 * The grammar is also expressed as a regular expression (FIELD_PATH_PATTERN / ITEMS_PATH_PATTERN) so the config
 * schema rejects malformed paths before any code runs; parsePath accepts exactly the same strings.
 */

export type PathRoot = 'item' | 'object' | 'document';

export type Step = { key: string } | { index: number } | { wildcard: true };

export interface ParsedPath {
  readonly text: string;
  readonly root: PathRoot;
  /** How many `$parent` levels to climb before reading (root is then `item`). */
  readonly parents: number;
  readonly steps: readonly Step[];
}

const ROOT = String.raw`\$(?:object|document|item|parent(?:\.\$parent)*)`;
const NAME = String.raw`[^.\[\]$][^.\[\]]*`;
const bracket = (wildcard: boolean) => String.raw`\[(?:[0-9]+|${wildcard ? String.raw`\*|` : ''}"[^"]*"|'[^']*')\]`;
const pattern = (wildcard: boolean) => `^(?:${ROOT}|${NAME}|${bracket(wildcard)})(?:\\.${NAME}|${bracket(wildcard)})*$`;

/** JSON Schema `pattern` of a field path (schema.json uses exactly this string). */
export const FIELD_PATH_PATTERN = pattern(false);
/** JSON Schema `pattern` of `itemsField` (field paths plus `[*]`). */
export const ITEMS_PATH_PATTERN = pattern(true);

export class PathError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`invalid path ${JSON.stringify(path)}: ${message}`);
    this.name = 'PathError';
    this.path = path;
  }
}

const cache = new Map<string, ParsedPath>();

/** Parse a path; throws PathError naming the problem. `wildcards` allows `[*]` (itemsField only). */
export function parsePath(text: string, opts: { wildcards?: boolean } = {}): ParsedPath {
  if (typeof text !== 'string' || text === '') throw new PathError(String(text), 'empty');
  const cacheKey = `${opts.wildcards ? 1 : 0}:${text}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  let i = 0;
  let root: PathRoot = 'item';
  let parents = 0;
  const steps: Step[] = [];

  const readName = (): string => {
    const start = i;
    while (i < text.length && text[i] !== '.' && text[i] !== '[' && text[i] !== ']') i++;
    if (i === start) throw new PathError(text, `expected a field name at offset ${start}`);
    if (text[i] === ']') throw new PathError(text, `unexpected ']' at offset ${i}`);
    return text.slice(start, i);
  };
  const readBracket = (): Step => {
    // text[i] === '['
    const close = text[i + 1] === '"' || text[i + 1] === "'" ? text.indexOf(`${text[i + 1]}]`, i + 2) : -1;
    if (close >= 0) {
      const key = text.slice(i + 2, close);
      if (key.includes(text[i + 1]!)) throw new PathError(text, `quote inside a quoted key at offset ${i}`);
      i = close + 2;
      return { key };
    }
    const end = text.indexOf(']', i);
    if (end < 0) throw new PathError(text, `'[' at offset ${i} is not closed`);
    const inner = text.slice(i + 1, end);
    i = end + 1;
    if (/^[0-9]+$/.test(inner)) return { index: Number(inner) };
    if (inner === '*') {
      if (!opts.wildcards) throw new PathError(text, '[*] is allowed only in itemsField');
      return { wildcard: true };
    }
    throw new PathError(text, `expected [n], [*] or ["key"], got [${inner}]`);
  };

  // Leading root.
  if (text[0] === '$') {
    const first = readName();
    if (first === '$object') root = 'object';
    else if (first === '$document') root = 'document';
    else if (first === '$item') root = 'item';
    else if (first === '$parent') {
      parents = 1;
      while (text.startsWith('.$parent', i) && (i + 8 === text.length || text[i + 8] === '.' || text[i + 8] === '[')) {
        parents++;
        i += 8;
      }
    } else throw new PathError(text, `unknown root '${first}' (use $object, $document, $item or $parent)`);
  } else if (text[0] === '[') steps.push(readBracket());
  else steps.push({ key: readName() });

  while (i < text.length) {
    if (text[i] === '.') {
      i++;
      if (text[i] === '$') throw new PathError(text, `'$' roots are allowed only at the start (offset ${i})`);
      steps.push({ key: readName() });
    } else if (text[i] === '[') steps.push(readBracket());
    else throw new PathError(text, `unexpected '${text[i]}' at offset ${i}`);
  }
  const parsed: ParsedPath = Object.freeze({ text, root, parents, steps: Object.freeze(steps) });
  if (cache.size > 10_000) cache.clear();
  cache.set(cacheKey, parsed);
  return parsed;
}

/** Where paths are read: the item, the watched object, the document, and the chain of enclosing elements. */
export interface PathContext {
  readonly item: unknown;
  readonly object: unknown;
  readonly document: unknown;
  readonly parent?: PathContext;
}

function step(cur: unknown, s: Step): unknown {
  if ('key' in s) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    return Object.hasOwn(cur, s.key) ? (cur as Record<string, unknown>)[s.key] : undefined;
  }
  if ('index' in s) return Array.isArray(cur) ? cur[s.index] : undefined;
  return undefined; // wildcards are expanded by expandItems, never read
}

/** The value at `path` in `ctx`, or undefined when any step is missing. Never throws. */
export function readPath(ctx: PathContext, path: ParsedPath): unknown {
  let c: PathContext | undefined = ctx;
  for (let n = 0; n < path.parents; n++) c = c?.parent;
  if (!c) return undefined;
  let cur: unknown = path.root === 'object' ? c.object : path.root === 'document' ? c.document : c.item;
  for (const s of path.steps) {
    cur = step(cur, s);
    if (cur === undefined) return undefined;
  }
  return cur;
}

export class ItemsShapeError extends Error {
  readonly at: string;
  constructor(at: string, got: unknown) {
    super(`expected an array at '${at}', got ${got === null ? 'null' : Array.isArray(got) ? 'array' : typeof got}`);
    this.name = 'ItemsShapeError';
    this.at = at;
  }
}

/**
 * The items an `itemsField` selects, each with its context (`$parent` = the element of the enclosing `[*]`).
 * The path's last step is iterated implicitly (`results` = `results[*]`). An absent or null array gives no items;
 * a value of another type throws ItemsShapeError (a malformed document is skipped, never read as "no findings").
 * `limit` stops the walk early: more than `limit` items throws RangeError.
 */
export function expandItems(
  base: PathContext,
  path: ParsedPath,
  limit: number,
): { item: unknown; ctx: PathContext; index: string }[] {
  const steps = path.steps.length > 0 && 'wildcard' in path.steps.at(-1)! ? path.steps : [...path.steps, WILDCARD];
  let start: unknown;
  {
    let c: PathContext | undefined = base;
    for (let n = 0; n < path.parents; n++) c = c?.parent;
    start = c ? (path.root === 'object' ? c.object : path.root === 'document' ? c.document : c.item) : undefined;
  }
  const out: { item: unknown; ctx: PathContext; index: string }[] = [];
  const walk = (cur: unknown, from: number, ctx: PathContext, label: string, index: string) => {
    for (let k = from; k < steps.length; k++) {
      const s = steps[k]!;
      if ('wildcard' in s) {
        if (cur === undefined || cur === null) return;
        if (!Array.isArray(cur)) throw new ItemsShapeError(label || '(root)', cur);
        for (let e = 0; e < cur.length; e++) {
          const el: unknown = cur[e];
          const next: PathContext = { item: el, object: base.object, document: base.document, parent: ctx };
          walk(el, k + 1, next, `${label}[${e}]`, index ? `${index}.${e}` : String(e));
        }
        return;
      }
      cur = step(cur, s);
      label += 'key' in s ? (label ? `.${s.key}` : s.key) : `[${s.index}]`;
      if (cur === undefined) return;
    }
    if (out.length >= limit) throw new RangeError(`more than ${limit} items`);
    out.push({ item: cur, ctx, index });
  };
  walk(start, 0, base, '', '');
  return out;
}

const WILDCARD: Step = Object.freeze({ wildcard: true as const });
