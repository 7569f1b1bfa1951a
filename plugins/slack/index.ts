/**
 * The slack destination: each batch of Observation events is ONE message to a Slack incoming webhook — a digest in
 * Block Kit (a header with the counts by severity, up to `maxItems` findings one by one, the rest summed up) — so
 * a burst of findings is a few messages, not a flood. Messages to one webhook are at least `minIntervalMs` apart
 * (Slack allows 1 message per second per incoming webhook, https://api.slack.com/apis/rate-limits#incoming-webhooks),
 * and a 429 is retried after its Retry-After by the host. The webhook URL is a secret: `spec.url`, or the
 * credentials key `url`.
 */
import type { FromSchema } from 'json-schema-to-ts';
import {
  checkDeliveryResponse,
  type DeliveryItem,
  definePlugin,
  deliveryError,
  ingesterKey,
  networkError,
  SEVERITIES,
} from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export const PLUGIN_NAME = 'slack';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type SlackConfig = FromSchema<typeof configSchema>;

const EMOJI: Record<string, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':large_blue_circle:',
  info: ':white_circle:',
};

/** Slack mrkdwn: escape the three characters Slack asks to escape. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The Block Kit message for one batch. */
export function digest(items: readonly DeliveryItem[], config: SlackConfig): Record<string, unknown> {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i.observation.spec.severity, (counts.get(i.observation.spec.severity) ?? 0) + 1);
  const summary = SEVERITIES.filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(', ');
  const resolved = items.filter((i) => i.event === 'resolved').length;
  const head = `${config.title}: ${items.length} finding${items.length === 1 ? '' : 's'}${resolved ? ` (${resolved} resolved)` : ''}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(head, 150) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(summary) }] },
  ];
  for (const i of items.slice(0, config.maxItems)) {
    const o = i.observation;
    const r = o.spec.resource;
    const where = r?.name ? `${r.kind ?? 'object'} ${r.namespace ? `${r.namespace}/` : ''}${r.name}` : o.namespace;
    const mark =
      i.event === 'resolved' ? ':white_check_mark: resolved' : `${EMOJI[o.spec.severity] ?? ''} ${o.spec.severity}`;
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(
          `${mark} *${escapeMrkdwn(o.spec.title)}*\n${escapeMrkdwn(o.spec.source)} · ${escapeMrkdwn(where)}${o.spec.message ? `\n${escapeMrkdwn(clip(o.spec.message, 500))}` : ''}`,
          2900,
        ),
      },
    });
  }
  const rest = items.slice(config.maxItems);
  if (rest.length) {
    const more = new Map<string, number>();
    for (const i of rest) more.set(i.observation.spec.severity, (more.get(i.observation.spec.severity) ?? 0) + 1);
    const text = SEVERITIES.filter((s) => more.has(s))
      .map((s) => `${more.get(s)} ${s}`)
      .join(', ');
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${rest.length} more: ${text}` }] });
  }
  return { text: head, blocks };
}

/** How long to wait before the next message to a webhook last used at `last` (ms), at `now`. */
export function waitMs(last: number | undefined, now: number, minIntervalMs: number): number {
  return last === undefined ? 0 : Math.max(0, last + minIntervalMs - now);
}

export default definePlugin<SlackConfig>({
  name: PLUGIN_NAME,
  register(api) {
    /** When the last message went to each webhook (per Destination). */
    const lastSent = new Map<string, number>();
    api.hooks.onDeliver.for('slack').tapPromise(async ({ destination, items, signal }) => {
      const config = destination.config; // validated against schema.json, defaults applied
      const url = destination.url ?? (await destination.secret(config.urlKey))?.trim();
      if (!url)
        throw deliveryError(`slack Destination needs spec.url or the credentials key '${config.urlKey}'`, {
          status: 503,
        });
      const key = ingesterKey(destination);
      const wait = waitMs(lastSent.get(key), Date.now(), config.minIntervalMs);
      if (wait > 0) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, wait);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(deliveryError('stopped while pacing', { status: 503 }));
          });
        });
      }
      const body = JSON.stringify(digest(items, config));
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { ...destination.headers, 'content-type': 'application/json' },
          body,
          signal,
        });
      } catch (err) {
        lastSent.set(key, Date.now());
        throw networkError(err, 'POST slack webhook'); // the URL is a secret: never in messages
      } finally {
        lastSent.set(key, Date.now());
      }
      await checkDeliveryResponse(res, 'POST slack webhook');
      return undefined;
    });
  },
});
