/**
 * Small pure helpers plugins (and the host) would otherwise each write again. Exported from the plugin API since
 * 1.2.0; the host uses the same functions, so a plugin's canonical JSON is the host's.
 */
import type { IngesterView } from './types.ts';

/** JSON with object keys sorted at every level (undefined members dropped), so equal content hashes equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
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
