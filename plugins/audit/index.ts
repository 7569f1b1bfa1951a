/**
 * The `audit` source plugin: Kubernetes API server audit events, posted by the audit webhook backend (an EventList of
 * up to 400 events per request) or by a log shipper (single Events, JSON Lines), are matched against rules and the
 * matches become Observations. Runs on every replica (webhook). Mapping lives in map.ts, rules in rules.ts.
 *
 * Answering fast matters: the API server retries every non-2xx (and every timeout) up to 5 times, so a bad item is
 * counted and skipped rather than failing its whole batch, and retried batches dedupe by fingerprint.
 */
import { definePlugin, ingesterKey } from 'zen-watcher/plugin-api';
import type { AuditConfig } from './config.ts';
import { mapBody } from './map.ts';

export const PLUGIN_NAME = 'audit';

// The version is package.json's (api.version).
export default definePlugin<AuditConfig>({
  name: PLUGIN_NAME,
  register(api) {
    const events = api.metrics.counter(
      'audit_events_total',
      'Audit events received, by result: matched, unmatched, stage_skipped, excluded, invalid.',
      ['source', 'result'],
    );
    const invalid = api.metrics.counter(
      'audit_invalid_events_total',
      'Audit events skipped because they are not usable events, by reason.',
      ['source', 'reason'],
    );
    const undecided = api.metrics.counter(
      'audit_rule_undecided_total',
      'Events a rule could not decide because the request body is missing (audit level Metadata) or truncated.',
      ['source', 'rule', 'why'],
    );
    const log = api.log.child({ handler: PLUGIN_NAME });
    // Log each kind of problem once per Ingester at warn, later ones at debug (the metrics count them all).
    const warned = new Set<string>();
    const once = (key: string, msg: string, meta: object) => {
      if (warned.has(key) || warned.size > 10_000) log.debug(msg, meta);
      else {
        warned.add(key);
        log.warn(`${msg} (first of its kind for this Ingester; later ones at debug, all counted in metrics)`, meta);
      }
    };

    api.hooks.onWebhook.for(PLUGIN_NAME).tapPromise(async (req) => {
      const ingester = ingesterKey(req.ingester);
      const source = req.ingester.source;
      const r = mapBody(req.body, req.ingester.config, { jsonLines: req.jsonLines });
      const s = r.stats;
      for (const w of r.warnings)
        once(`${ingester}\u0000config\u0000${w}`, `audit Ingester config: ${w}`, { ingester });
      const counts = {
        matched: s.matched,
        unmatched: s.unmatched,
        stage_skipped: s.stageSkipped,
        excluded: s.excluded,
        invalid: s.invalid,
      };
      for (const [result, n] of Object.entries(counts)) if (n > 0) events.inc({ source, result }, n);
      const byReason = new Map<string, number>();
      for (const i of r.invalid) byReason.set(i.reason, (byReason.get(i.reason) ?? 0) + 1);
      for (const [reason, n] of byReason) invalid.inc({ source, reason }, n);
      for (const [key, n] of Object.entries(s.undecided)) {
        const [rule = '', why = ''] = key.split('/');
        undecided.inc({ source, rule, why }, n);
        once(
          `${ingester}\u0000undecided\u0000${key}`,
          `audit rule '${rule}' cannot be decided (${why}): raise the audit policy level to Request for these requests`,
          { ingester, rule, why, events: n },
        );
      }
      const first = r.invalid[0];
      if (first) {
        once(`${ingester}\u0000invalid\u0000${first.reason}`, 'skipped audit events that are not usable', {
          ingester,
          skipped: s.invalid,
          of: s.events,
          field: first.field,
          reason: first.reason,
          why: first.message,
        });
      }
      if (r.refuse) throw api.payloadError(r.refuse.message, r.refuse.field);
      return r.drafts;
    });
  },
});
