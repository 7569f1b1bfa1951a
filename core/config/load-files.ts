/**
 * Reads Ingester documents from YAML/JSON files (standalone mode's ZEN_CONFIG_DIR, and `zen-watcher validate`).
 * Multi-document YAML is supported; each document is reported with its file and index.
 *
 * Never throws on a file's content: a file or document that cannot be used comes back with `parseError`, and the
 * caller rejects that one and runs the others. Bounded against hostile or broken files: a file over
 * MAX_CONFIG_FILE_BYTES is refused before it is read, alias expansion is capped (billion laughs), and a document
 * with more than MAX_CONFIG_NODES map entries and list items is refused. Duplicate keys are found in one pass here
 * (the yaml package's own check is quadratic: 100,000 keys took 74 s).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Yaml from 'yaml';
import type { Document, LineCounter } from 'yaml';

// The yaml package (72 modules, a few MB of RSS) is loaded when the first config file is read, not at start: the
// default standalone process has none (issue #18, idle RSS).
let yamlModule: typeof Yaml | undefined;
function yaml(): typeof Yaml {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yamlModule;
}

/** Largest config file read, bytes. An Ingester document is a few KB; parsing 512 KiB of YAML takes about a second. */
export const MAX_CONFIG_FILE_BYTES = 512 * 1024;
/** Most alias expansions per document (yaml's maxAliasCount): a few anchors are fine, exponential expansion not. */
export const MAX_CONFIG_ALIASES = 50;
/** Most map entries plus list items per document. */
export const MAX_CONFIG_NODES = 10_000;

export interface LoadedDocument {
  /** `file` or `file#2` for the 3rd document of a multi-document file. */
  origin: string;
  doc?: unknown;
  /** Set when the file or document could not be parsed. */
  parseError?: string;
}

export function configFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
}

export function readDocuments(file: string, displayName = file): LoadedDocument[] {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_FILE_BYTES) {
      return [
        {
          origin: displayName,
          parseError: `file is ${size} bytes, over the limit of ${MAX_CONFIG_FILE_BYTES} bytes for a config file`,
        },
      ];
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return [{ origin: displayName, parseError: `cannot read: ${(err as Error).message}` }];
  }
  let list: Document.Parsed[];
  const { LineCounter, parseAllDocuments } = yaml();
  const lines = new LineCounter();
  try {
    const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
    list = Array.isArray(docs) ? docs : [docs as unknown as Document.Parsed];
  } catch (err) {
    return [{ origin: displayName, parseError: `cannot parse: ${firstLine(err)}` }];
  }
  const out: LoadedDocument[] = [];
  list.forEach((d, i) => {
    const origin = list.length > 1 ? `${displayName}#${i}` : displayName;
    if (d.errors.length > 0) {
      out.push({ origin, parseError: d.errors.map((e) => firstLine(e)).join('; ') });
      return;
    }
    const shape = checkShape(d.contents, lines);
    if (shape) {
      out.push({ origin, parseError: shape });
      return;
    }
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
    } catch (err) {
      // yaml throws for excessive aliasing ("resource exhaustion attack") and for unresolvable aliases.
      out.push({
        origin,
        parseError: `cannot load: ${firstLine(err)} (at most ${MAX_CONFIG_ALIASES} alias expansions)`,
      });
      return;
    }
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    out.push({ origin, doc: value });
  });
  return out;
}

/** Counts nodes (bounded) and finds duplicate keys, without recursion; a message, or undefined when fine. */
function checkShape(root: unknown, lines: LineCounter): string | undefined {
  const { isMap, isPair, isScalar, isSeq } = yaml();
  let nodes = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const keys = new Set<string>();
      for (const pair of node.items) {
        if (++nodes > MAX_CONFIG_NODES) return tooMany();
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key !== undefined) {
          if (keys.has(key)) return `duplicate key '${key.slice(0, 80)}'${position(pair.key, lines)}`;
          keys.add(key);
        } else stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        if (++nodes > MAX_CONFIG_NODES) return tooMany();
        stack.push(item);
      }
    }
  }
  return undefined;
}

const tooMany = () => `document has more than ${MAX_CONFIG_NODES} map entries and list items; refused`;

function position(node: unknown, lines: LineCounter): string {
  const range = (node as { range?: [number, number, number] }).range;
  return range ? ` at line ${lines.linePos(range[0]).line}` : '';
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}
