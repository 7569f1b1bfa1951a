/** Shared helpers for the falco plugin tests. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Observation } from 'zen-watcher/plugin-api';
import { configFromSchema, loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import type { FalcoConfig } from '../map.ts';
import schema from '../schema.json' with { type: 'json' };

export const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OWN_FIXTURES = join(PLUGIN_DIR, 'test', 'fixtures');
/** A fixed clock: webhook Observation names include the dedup window bucket of the event time (detectedAt), or of "now" without one. */
export const NOW = Date.parse('2025-06-01T12:00:00.000Z');
/** The namespace of the test Ingester (Observations without a resource namespace land here). */
export const INGESTER_NS = 'zen-system';

/** spec.config as the host hands it over (schema.json validated, defaults applied); throws where the host refuses. */
export const configOf = (config: Record<string, unknown> = {}): FalcoConfig =>
  configFromSchema<FalcoConfig>(schema, config);
export const DEFAULT_CONFIG = configOf();

export function load(): Promise<TestPlugin> {
  return loadTestPlugin(PLUGIN_DIR, { now: () => NOW });
}

/**
 * A file as the host would hand it to the plugin: one JSON document, or (when that fails) JSON Lines parsed into an
 * array with `jsonLines: true` — mirrors core/http/body.ts parseJsonBody.
 */
export function payload(file: string): { body: unknown; jsonLines: boolean } {
  const text = readFileSync(file, 'utf8');
  try {
    return { body: JSON.parse(text), jsonLines: false };
  } catch {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return { body: lines.map((l) => JSON.parse(l) as unknown), jsonLines: true };
  }
}

export function own(name: string): { body: unknown; jsonLines: boolean } {
  return payload(join(OWN_FIXTURES, name));
}

/** Observations in pipeline order (the order of the alerts in the body). */
export function inOrder(names: readonly string[], observations: readonly Observation[]): Observation[] {
  const byName = new Map(observations.map((o) => [o.name, o]));
  return names.map((n) => {
    const o = byName.get(n);
    if (!o) throw new Error(`no Observation named ${n}`);
    return o;
  });
}
