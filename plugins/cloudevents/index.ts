/**
 * The cloudevents destination: each Observation as one CloudEvents 1.0 event in structured content mode
 * (`application/cloudevents+json`), POSTed to `spec.url`, in write order. The event `id` is the host's idempotency
 * key (the same on every resend), so a receiver deduplicates on `source` + `id` as the CloudEvents spec intends.
 * Optional HMAC-SHA256 signature over `<unix seconds>.<body>` and a bearer token, both from the Destination's
 * credentials, read on every send (rotation without restart); `spec.headers` are added to every request.
 */

import { createHmac } from 'node:crypto';
import type { FromSchema } from 'json-schema-to-ts';
import {
  checkDeliveryResponse,
  type DeliveryItem,
  type DestinationView,
  definePlugin,
  deliveryError,
  networkError,
} from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export const PLUGIN_NAME = 'cloudevents';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type CloudEventsConfig = FromSchema<typeof configSchema>;

/** The structured-mode event for one delivery item (CloudEvents 1.0 JSON format). */
export function toCloudEvent(item: DeliveryItem, config: CloudEventsConfig): Record<string, unknown> {
  const o = item.observation;
  return {
    specversion: '1.0',
    id: item.key,
    source: config.source,
    type: `${config.typePrefix}.${item.event}`,
    subject: `${o.namespace}/${o.name}`,
    time: item.event === 'resolved' && o.resolvedAt ? o.resolvedAt : o.spec.detectedAt,
    datacontenttype: 'application/json',
    severity: o.spec.severity,
    category: o.spec.category,
    data: {
      name: o.name,
      namespace: o.namespace,
      phase: o.phase,
      labels: o.labels,
      spec: o.spec,
      createdAt: o.createdAt,
      ...(o.resolvedAt ? { resolvedAt: o.resolvedAt } : {}),
    },
  };
}

/** `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<body>`). */
export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

async function headersFor(dest: DestinationView, config: CloudEventsConfig, body: string) {
  const headers: Record<string, string> = {
    ...dest.headers,
    'content-type': 'application/cloudevents+json; charset=utf-8',
  };
  const secret = (await dest.secret(config.signature.secretKey))?.split(/\r?\n/)[0]?.trim();
  if (secret) {
    const ts = String(Math.floor(Date.now() / 1000));
    headers[config.signature.timestampHeader] = ts;
    headers[config.signature.header] = sign(secret, ts, body);
  } else if (config.signature.required) {
    throw deliveryError(
      `Destination ${dest.namespace}/${dest.name}: signature.required but its credentials have no key '${config.signature.secretKey}'`,
      { status: 503 },
    );
  }
  if (config.bearerTokenKey) {
    const token = (await dest.secret(config.bearerTokenKey))?.trim();
    if (!token)
      throw deliveryError(
        `Destination ${dest.namespace}/${dest.name}: its credentials have no key '${config.bearerTokenKey}'`,
        { status: 503 },
      );
    headers.authorization = `Bearer ${token}`;
  }
  return headers;
}

export default definePlugin<CloudEventsConfig>({
  name: PLUGIN_NAME,
  register(api) {
    api.hooks.onDeliver.for('cloudevents').tapPromise(async ({ destination, items, signal }) => {
      const url = destination.url;
      if (!url) throw deliveryError('cloudevents Destination needs spec.url', { retryable: false, status: 400 });
      const config = destination.config; // validated against schema.json, defaults applied
      let accepted = 0;
      const rejected: { key: string; reason: string }[] = [];
      for (const item of items) {
        const body = JSON.stringify(toCloudEvent(item, config));
        const headers = await headersFor(destination, config, body);
        headers['idempotency-key'] = item.key;
        let res: Response;
        try {
          res = await fetch(url, { method: 'POST', headers, body, signal });
        } catch (err) {
          throw networkError(err, `POST ${url}`, accepted);
        }
        try {
          await checkDeliveryResponse(res, `POST ${url}`, accepted);
        } catch (err) {
          // One event refused for good (e.g. 400): skip it, keep going; anything retryable stops the batch here.
          if ((err as { retryable?: boolean }).retryable === false) {
            rejected.push({ key: item.key, reason: (err as Error).message });
            accepted++;
            continue;
          }
          throw err;
        }
        accepted++;
      }
      return rejected.length ? { rejected } : undefined;
    });
  },
});
