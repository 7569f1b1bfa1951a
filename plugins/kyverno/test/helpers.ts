/** Shared helpers for the kyverno plugin tests. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { configFromSchema, loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import { REPORT_KINDS } from '../kinds.ts';
import type { KyvernoConfig } from '../map.ts';
import schema from '../schema.json' with { type: 'json' };

export const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OWN_FIXTURES = join(PLUGIN_DIR, 'test', 'fixtures');
/** The namespace of the test Ingester (Observations without a resource namespace land here). */
export const INGESTER_NS = 'zen-system';

export type Doc = Record<string, unknown>;

/** spec.config as the host hands it over (schema.json validated, defaults applied); throws where the host refuses. */
export const configOf = (config: Record<string, unknown> = {}): KyvernoConfig =>
  configFromSchema<KyvernoConfig>(schema, config);

export function load(opts: { resolveGraceMs?: number; now?: () => number } = {}): Promise<TestPlugin> {
  return loadTestPlugin(PLUGIN_DIR, opts);
}

/** A kit with one kyverno Ingester (namespace zen-system) whose term has started. */
export async function leading(
  config: Record<string, unknown> = {},
  opts: { resolveGraceMs?: number; serve?: string[]; spec?: Record<string, unknown> } = {},
): Promise<TestPlugin> {
  const kit = await load(opts);
  if (opts.serve) kit.serve(opts.serve);
  kit.ingester({ name: 'kyverno', namespace: INGESTER_NS, config, ...(opts.spec ? { spec: opts.spec } : {}) });
  await kit.startLeading();
  // Discovery (hasResource) is async: wait until it has run.
  await kit.settle();
  return kit;
}

/** Every report in a YAML file: multi-document files and `kind: List` files are flattened. */
export function reportsIn(file: string): Doc[] {
  const out: Doc[] = [];
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const doc = d.toJS() as Doc | null;
    if (!doc) continue;
    if (doc.kind === 'List' || (typeof doc.kind === 'string' && doc.kind.endsWith('List'))) {
      for (const item of (doc.items as Doc[] | undefined) ?? []) out.push(item);
    } else out.push(doc);
  }
  return out;
}

export function own(name: string): Doc[] {
  return reportsIn(join(OWN_FIXTURES, name));
}

/** The watched resource (plural) of a report by its kind; any API version of the group (lenient). */
export function resourceOf(doc: Doc): string {
  const k = REPORT_KINDS.find((x) => x.kind === doc.kind && String(doc.apiVersion).startsWith(`${x.group}/`));
  if (!k) throw new Error(`not a report kind: ${String(doc.apiVersion)} ${String(doc.kind)}`);
  return k.resource;
}

/** Deep copy. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}
