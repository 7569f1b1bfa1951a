/**
 * Pure mapping from a kube-bench report (`kube-bench run --json`) to ObservationDrafts. No host needed: index.ts
 * wraps it, tests call it directly.
 *
 * Accepted bodies: the current report `{ "Controls": [control...], "Totals": {...} }`; a JSON array of controls or of
 * reports (older kube-bench versions, several targets); one control object; JSON Lines of any of these (the host
 * parses them into an array). A control is `{ id, version, node_type, tests: [{ section, desc, results: [...] }] }`;
 * each result (one CIS check) has `test_number`, `test_desc`, `status` (PASS, FAIL, WARN, INFO), `scored`,
 * `remediation`, `actual_value`, `expected_result`.
 *
 * The whole request is refused (`payloadError` naming the field: HTTP 422) when any part is malformed: a report is
 * one unit, and half of it would look like fixed checks.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { type ObservationDraft, payloadError } from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export const STATUSES = ['FAIL', 'WARN', 'INFO', 'PASS'] as const;
export type CheckStatus = (typeof STATUSES)[number];

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type KubeBenchConfig = FromSchema<typeof configSchema>;

export interface MapResult {
  drafts: ObservationDraft[];
  /** Every check of the report, by status. */
  checks: Record<CheckStatus, number>;
  /** The checks turned into drafts, by status (the rest: status not in config.statuses, or unscored with scoredOnly). */
  reported: Record<CheckStatus, number>;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, max = 256): string | undefined => {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const t = v.trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** The controls of a body, each with the field path it came from. */
function controlsOf(body: unknown): { control: unknown; at: string }[] {
  const fromReport = (report: Obj, at: string) => {
    if (!Array.isArray(report.Controls)) throw payloadError('Controls must be an array', `${at}Controls`);
    return report.Controls.map((control, i) => ({ control, at: `${at}Controls[${i}]` }));
  };
  if (isObject(body)) {
    if ('Controls' in body) return fromReport(body, '');
    if ('tests' in body) return [{ control: body, at: '' }];
  }
  if (Array.isArray(body)) {
    return body.flatMap((item, i) =>
      isObject(item) && 'Controls' in item ? fromReport(item, `[${i}].`) : [{ control: item, at: `[${i}]` }],
    );
  }
  throw payloadError(
    'expected a kube-bench --json report ({"Controls": [...]}), an array of controls, or one control',
    '(body)',
  );
}

/** Every check of one request, or the first payload error. `node` is who the report is about, when known. */
export function mapReport(body: unknown, config: KubeBenchConfig, node?: string): MapResult {
  const result: MapResult = {
    drafts: [],
    checks: { FAIL: 0, WARN: 0, INFO: 0, PASS: 0 },
    reported: { FAIL: 0, WARN: 0, INFO: 0, PASS: 0 },
  };
  const pending: ObservationDraft[] = [];
  let seen = 0;
  for (const { control, at } of controlsOf(body)) {
    const p = (f: string) => (at ? `${at}.${f}` : f);
    if (!isObject(control)) throw payloadError('a control must be a JSON object', at || '(body)');
    if (!Array.isArray(control.tests)) throw payloadError('tests must be an array', p('tests'));
    const benchmark = text(control.version, 63) ?? 'unknown';
    control.tests.forEach((group, g) => {
      const gp = (f: string) => p(`tests[${g}].${f}`);
      if (!isObject(group) || !Array.isArray(group.results)) {
        throw payloadError('each test group must have a results array', gp('results'));
      }
      group.results.forEach((check, r) => {
        const cp = (f: string) => gp(`results[${r}].${f}`);
        if (++seen > config.maxResults) {
          throw payloadError(
            `more than ${config.maxResults} check results in one request (spec.config.maxResults)`,
            '(body)',
          );
        }
        if (!isObject(check)) throw payloadError('a check result must be a JSON object', gp(`results[${r}]`));
        const testNumber = text(check.test_number, 32);
        if (!testNumber) throw payloadError('test_number must be a non-empty string', cp('test_number'));
        const status = typeof check.status === 'string' ? check.status.trim().toUpperCase() : '';
        if (!(STATUSES as readonly string[]).includes(status)) {
          throw payloadError('status must be PASS, FAIL, WARN or INFO', cp('status'));
        }
        const st = status as CheckStatus;
        result.checks[st]++;
        const scored = check.scored === true;
        if (!config.statuses.includes(st) || (config.scoredOnly && !scored)) return;
        result.reported[st]++;
        const desc = text(check.test_desc, 240) ?? '(no description)';
        pending.push({
          severity: config.severities[st],
          category: 'compliance',
          eventType: `cis_benchmark_${st.toLowerCase()}`,
          title: `${testNumber} ${desc}`,
          ...(text(check.remediation, 4096) ? { message: text(check.remediation, 4096) } : {}),
          ...(node ? { resource: { apiVersion: 'v1', kind: 'Node', name: node } } : {}),
          details: {
            benchmark,
            ...(text(control.detected_version, 32) ? { detectedVersion: text(control.detected_version, 32) } : {}),
            ...(text(control.node_type, 32) ? { nodeType: text(control.node_type, 32) } : {}),
            ...(text(group.section, 32) ? { section: text(group.section, 32) } : {}),
            ...(text(group.desc) ? { sectionDesc: text(group.desc) } : {}),
            testNumber,
            status: st,
            scored,
            ...(text(check.actual_value) ? { actualValue: text(check.actual_value) } : {}),
            ...(text(check.expected_result) ? { expectedResult: text(check.expected_result) } : {}),
            ...(text(check.reason) ? { reason: text(check.reason) } : {}),
          },
          // One check on one node under one benchmark, in one state: a check that goes from WARN to FAIL is new.
          fingerprint: `kube-bench/${node ?? '-'}/${benchmark}/${testNumber}/${st}`,
        });
      });
    });
  }
  result.drafts = pending;
  return result;
}

/** The node a request is about, from the configured header (kube-bench's report does not name it). */
export function nodeOf(headers: Readonly<Record<string, string | string[] | undefined>>, header: string) {
  const v = headers[header.toLowerCase()];
  const value = (Array.isArray(v) ? v[0] : v)?.trim();
  if (value === undefined || value === '') return undefined;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(value)) {
    throw payloadError(`header ${header} must be a Kubernetes node name`, `(header ${header})`);
  }
  return value;
}
