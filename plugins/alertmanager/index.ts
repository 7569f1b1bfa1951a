/**
 * The alertmanager destination: each Observation event as one alert of the Alertmanager API v2
 * (`POST <url>/api/v2/alerts`, a batch per request). An Active Observation is a firing alert that ends when the
 * Observation expires (`endsAt` = created + TTL, so no resend loop is needed); a Resolved one is sent again with
 * `endsAt` = its resolution time, which resolves the alert; a re-opened one fires again. Labels come from the
 * Observation (source, severity, category, namespace, resource kind/name, the Observation's name) so Alertmanager's
 * routing, grouping, inhibition and silences work on them. Re-sending the same alert is harmless: Alertmanager
 * merges alerts with the same label set.
 */
import type { FromSchema } from 'json-schema-to-ts';
import {
  checkDeliveryResponse,
  type DeliveryItem,
  definePlugin,
  deliveryError,
  networkError,
} from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export const PLUGIN_NAME = 'alertmanager';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type AlertmanagerConfig = FromSchema<typeof configSchema>;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** A label value as Alertmanager accepts it (any UTF-8; empty values are dropped by Alertmanager). */
const put = (labels: Record<string, string>, key: string, value: string | undefined) => {
  if (value) labels[key] = value;
};

/** The API v2 alert for one delivery item. */
export function toAlert(item: DeliveryItem, config: AlertmanagerConfig, now: () => number = Date.now): PostableAlert {
  const o = item.observation;
  const labels: Record<string, string> = { ...config.labels };
  labels.alertname = config.alertname;
  put(labels, 'source', o.spec.source);
  put(labels, 'severity', o.spec.severity);
  put(labels, 'category', o.spec.category);
  put(labels, 'event_type', o.spec.eventType);
  put(labels, 'namespace', o.spec.resource?.namespace ?? o.namespace);
  put(labels, 'resource_kind', o.spec.resource?.kind);
  put(labels, 'resource_name', o.spec.resource?.name);
  put(labels, 'observation', o.name);
  put(labels, 'observation_namespace', o.namespace);
  const annotations: Record<string, string> = { summary: o.spec.title };
  put(annotations, 'description', o.spec.message);
  annotations.fingerprint = o.spec.fingerprint;
  annotations.idempotency_key = item.key;
  const detected = Date.parse(o.spec.detectedAt);
  // A resolved alert must reach Alertmanager with endsAt already past: one that is not yet "resolved" when it
  // arrives is merged as firing, and the earlier firing's later endsAt wins. So never later than a second ago.
  const resolvedAt = Date.parse(o.resolvedAt ?? '');
  const ends =
    item.event === 'resolved'
      ? Math.min(Number.isFinite(resolvedAt) ? resolvedAt : now(), now() - 1000)
      : Date.parse(o.expiresAt);
  // Alertmanager refuses endsAt before startsAt: a finding resolved "before" it was detected (clock skew) starts then.
  const startsAt = Number.isFinite(detected) && detected < ends ? detected : ends - 1000;
  const alert: PostableAlert = {
    labels,
    annotations,
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(ends).toISOString(),
  };
  if (config.generatorURL)
    alert.generatorURL = config.generatorURL
      .replaceAll('{namespace}', encodeURIComponent(o.namespace))
      .replaceAll('{name}', encodeURIComponent(o.name));
  return alert;
}

export default definePlugin<AlertmanagerConfig>({
  name: PLUGIN_NAME,
  register(api) {
    api.hooks.onDeliver.for('alertmanager').tapPromise(async ({ destination, items, signal }) => {
      if (!destination.url)
        throw deliveryError('alertmanager Destination needs spec.url', { retryable: false, status: 400 });
      const config = destination.config; // validated against schema.json, defaults applied
      const url = `${destination.url.replace(/\/+$/, '')}/api/v2/alerts`;
      const headers: Record<string, string> = { ...destination.headers, 'content-type': 'application/json' };
      if (config.bearerTokenKey) {
        const token = (await destination.secret(config.bearerTokenKey))?.trim();
        if (!token) throw deliveryError(`credentials have no key '${config.bearerTokenKey}'`, { status: 503 });
        headers.authorization = `Bearer ${token}`;
      } else if (config.basicAuth) {
        const [user, pass] = await Promise.all([destination.secret('username'), destination.secret('password')]);
        if (user === undefined || pass === undefined)
          throw deliveryError('basicAuth needs the credentials keys username and password', { status: 503 });
        headers.authorization = `Basic ${Buffer.from(`${user.trim()}:${pass.trim()}`).toString('base64')}`;
      }
      const body = JSON.stringify(items.map((i) => toAlert(i, config)));
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal });
      } catch (err) {
        throw networkError(err, `POST ${url}`);
      }
      await checkDeliveryResponse(res, `POST ${url}`);
      return undefined;
    });
  },
});
