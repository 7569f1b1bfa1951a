/** Shared helpers for the trivy plugin tests. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { ObservationDraft } from 'zen-watcher/plugin-api';
import { configFromSchema, type KitObservation, loadTestPlugin, type TestPlugin } from 'zen-watcher/testkit';
import type { TrivyConfig } from '../config.ts';
import schema from '../schema.json' with { type: 'json' };

export const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OWN_FIXTURES = join(PLUGIN_DIR, 'test', 'fixtures');
/** A fixed start time; tests move `clock.t` to pass the resolve grace period. */
export const NOW = Date.parse('2025-06-01T12:00:00.000Z');
export const INGESTER_NS = 'zen-system';

/** spec.config as the host hands it over (schema.json validated, defaults applied); throws where the host refuses. */
export const configOf = (config: Record<string, unknown> = {}): TrivyConfig =>
  configFromSchema<TrivyConfig>(schema, config);

export type Report = Record<string, unknown> & {
  kind?: string;
  metadata?: Record<string, unknown> & { name?: string; namespace?: string; uid?: string };
  report?: Record<string, unknown>;
};

/** Plural resource of each report kind (what the informer watches). */
export const RESOURCE: Readonly<Record<string, string>> = Object.freeze({
  VulnerabilityReport: 'vulnerabilityreports',
  ClusterVulnerabilityReport: 'clustervulnerabilityreports',
  ConfigAuditReport: 'configauditreports',
  ClusterConfigAuditReport: 'clusterconfigauditreports',
  ExposedSecretReport: 'exposedsecretreports',
});

export const ALL_KINDS = Object.keys(RESOURCE);

export function resourceOf(r: Report): string {
  const res = RESOURCE[r.kind ?? ''];
  if (!res) throw new Error(`not a report kind: ${r.kind}`);
  return res;
}

export interface Kit {
  kit: TestPlugin;
  clock: { t: number };
}

/** The plugin in the test kit with a movable clock; `graceMs` is the resolve grace period (kit default 0). */
export async function load(graceMs = 0, watchNamespaces: string[] = []): Promise<Kit> {
  const clock = { t: NOW };
  const kit = await loadTestPlugin(PLUGIN_DIR, { now: () => clock.t, resolveGraceMs: graceMs, watchNamespaces });
  return { kit, clock };
}

/** Every report in a YAML file: multi-document, `*List` objects expanded into their items. */
export function readReports(file: string): Report[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Report | null);
  return docs
    .filter((d): d is Report => !!d && typeof d === 'object')
    .flatMap((d) => (Array.isArray(d.items) ? (d.items as Report[]) : [d]));
}

export function own(name: string): Report[] {
  return readReports(join(OWN_FIXTURES, name));
}

export function ownOne(name: string): Report {
  const [r] = own(name);
  if (!r) throw new Error(`no report in ${name}`);
  return r;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The Observation name the host derives from a fingerprint (informer Ingesters: no window bucket). */
export function expectedName(fingerprint: string, source = 'trivy'): string {
  return `${source}-${sha256(sha256(fingerprint)).slice(0, 16)}`;
}

/** The identity the plugin gives a vulnerability: workload + container + ID + package + installed version. */
export function vulnFingerprint(workloadKey: string, container: string, id: string, pkg: string, installed: string) {
  return JSON.stringify(['trivy', 'vulnerability', workloadKey, container, id, pkg, installed]);
}

export function checkFingerprint(workloadKey: string, checkID: string, scopeType = '', scopeValue = '') {
  return JSON.stringify(['trivy', 'configaudit', workloadKey, checkID, scopeType, scopeValue]);
}

export function secretFingerprint(workloadKey: string, container: string, rule: string, target: string, match: string) {
  return JSON.stringify(['trivy', 'exposedsecret', workloadKey, container, rule, target, match]);
}

export const clone = <T>(v: T): T => structuredClone(v);

/** A copy of a report as Trivy re-creates it: new uid, new resourceVersion, new creationTimestamp. */
export function recreated(r: Report, n = 2): Report {
  const c = clone(r);
  c.metadata = {
    ...c.metadata,
    uid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    resourceVersion: String(1000 + n),
    creationTimestamp: new Date(NOW + n * 86_400_000).toISOString(),
  };
  return c;
}

export function vulnerabilities(r: Report): Record<string, unknown>[] {
  return (r.report?.vulnerabilities as Record<string, unknown>[] | undefined) ?? [];
}

export const byName = (obs: readonly KitObservation[]) => new Map(obs.map((o) => [o.name, o]));
export const active = (obs: readonly KitObservation[]) => obs.filter((o) => o.phase === 'Active');
export const resolved = (obs: readonly KitObservation[]) => obs.filter((o) => o.phase === 'Resolved');
export const names = (obs: readonly { name: string }[]) => obs.map((o) => o.name).sort();

export function fingerprints(drafts: readonly ObservationDraft[]): string[] {
  return drafts.map((d) => d.fingerprint ?? '');
}
