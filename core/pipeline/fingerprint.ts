/**
 * Identity of findings and names of Observations (DESIGN §6). Names are deterministic —
 * `<source>-<first 16 hex of sha256(fingerprint [+ window bucket])>` — so every replica and every restart derives
 * the same name for the same finding, and a create that finds the name taken is a duplicate.
 */
import { hash } from 'node:crypto';

export { canonicalJson } from '../api/helpers.ts';

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

export function observationName(source: string, fingerprint: string, bucket?: number): string {
  const input = bucket === undefined ? fingerprint : `${fingerprint}\n${bucket}`;
  return `${source}-${sha256Hex(input).slice(0, 16)}`;
}

/** Reads `a.b.c` from an object; undefined when any step is missing. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
