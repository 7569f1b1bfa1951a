/**
 * Reads Ingester documents from YAML/JSON files (standalone mode's ZEN_CONFIG_DIR, and `zen-watcher validate`).
 * Multi-document YAML is supported; each document is reported with its file and index.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

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
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return [{ origin: displayName, parseError: `cannot read: ${(err as Error).message}` }];
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: LoadedDocument[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((d, i) => {
    const origin = list.length > 1 ? `${displayName}#${i}` : displayName;
    if (d.errors.length > 0) {
      out.push({ origin, parseError: d.errors.map((e) => e.message.split('\n')[0]).join('; ') });
      return;
    }
    const value = d.toJS();
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    out.push({ origin, doc: value });
  });
  return out;
}
