/** Shared helpers for the audit plugin tests. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Observation } from 'zen-watcher/plugin-api';
import { configFromSchema, loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import type { AuditConfig } from '../config.ts';
import { parseEvent } from '../event.ts';
import { requestKey } from '../map.ts';
import schema from '../schema.json' with { type: 'json' };

export const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OWN_FIXTURES = join(PLUGIN_DIR, 'test', 'fixtures');
/** The namespace of the test Ingester (Observations about cluster-scoped objects land here). */
export const INGESTER_NS = 'zen-system';
/** The recommended Ingester settings (README): identity never expires, so retries are duplicates at any delay. */
export const SPEC = { deduplication: { window: '0s' } };

/** spec.config as the host hands it over (schema.json validated, defaults applied); throws where the host refuses. */
export const configOf = (config: Record<string, unknown> = {}): AuditConfig =>
  configFromSchema<AuditConfig>(schema, config);
export const DEFAULT_CONFIG = configOf();

export function load(opts: { now?: () => number } = {}): Promise<TestPlugin> {
  return loadTestPlugin(PLUGIN_DIR, opts);
}

/**
 * A file as the host hands it to the plugin: one JSON document, or (when that fails) JSON Lines parsed into an
 * array with `jsonLines: true` (what core/http/body.ts does).
 */
export function payload(file: string): { body: unknown; jsonLines: boolean } {
  const text = readFileSync(file, 'utf8');
  try {
    return { body: JSON.parse(text) as unknown, jsonLines: false };
  } catch {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return { body: lines.map((l) => JSON.parse(l) as unknown), jsonLines: true };
  }
}

export function own(name: string): { body: unknown; jsonLines: boolean } {
  return payload(join(OWN_FIXTURES, name));
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

/** Every audit event in a file (a single Event, an EventList's items, or JSON Lines). */
export function eventsIn(file: string): Record<string, unknown>[] {
  const { body } = payload(file);
  if (Array.isArray(body)) return body as Record<string, unknown>[];
  const o = body as Record<string, unknown>;
  if (o.kind === 'EventList') return o.items as Record<string, unknown>[];
  return [o];
}

/** An event as the webhook backend puts it in an EventList: no kind/apiVersion (FORMATS.md §4.1). */
export function asItem(event: Record<string, unknown>): Record<string, unknown> {
  const { kind: _k, apiVersion: _a, ...rest } = structuredClone(event);
  return rest;
}

export function eventList(items: unknown[]): Record<string, unknown> {
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The Observation name the host must give a draft fingerprint with `deduplication.window: 0s` (DESIGN §6: the
 * pipeline hashes the plugin fingerprint, the name is `<source>-<16 hex of sha256(that)>`). Computed here
 * independently of core, so a change to the naming scheme (which would break dedup across versions) fails a test.
 */
/** The fingerprint the plugin gives an event's request (matchPolicy first; `rule` appended for matchPolicy all). */
export function fingerprintOf(event: Record<string, unknown>, rule?: string): string {
  const key = requestKey(parseEvent(event));
  return rule === undefined ? key : `${key}/${rule}`;
}

export function expectedName(fingerprint: string, source = 'audit'): string {
  return `${source}-${sha256(sha256(fingerprint)).slice(0, 16)}`;
}

/** Observations ordered as the pipeline wrote them (the order of the drafts). */
export function inOrder(names: readonly string[], observations: readonly Observation[]): Observation[] {
  const byName = new Map(observations.map((o) => [o.name, o]));
  return names.map((n) => {
    const o = byName.get(n);
    if (!o) throw new Error(`no Observation named ${n}`);
    return o;
  });
}

/** The compact view tests compare: rule, severity, resource, Observation namespace. */
export function summary(o: Observation): {
  rule: unknown;
  severity: string;
  eventType: string;
  resource: unknown;
  namespace: string;
} {
  return {
    rule: o.spec.details?.rule,
    severity: o.spec.severity,
    eventType: o.spec.eventType,
    resource: o.spec.resource,
    namespace: o.namespace,
  };
}
