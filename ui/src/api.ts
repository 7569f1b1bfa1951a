/** The read API client: JSON over fetch, the bearer token (if the user gave one) from sessionStorage. */

export interface Item {
  namespace: string;
  name: string;
  source: string;
  severity: string;
  category: string;
  eventType: string;
  title: string;
  message?: string;
  resource?: { apiVersion?: string; kind?: string; name?: string; namespace?: string };
  detectedAt: string;
  firstSeen: string;
  lastSeen: string;
  count: number;
  phase: 'Active' | 'Resolved';
  resolvedAt?: string;
  reason?: string;
}

export interface Page {
  items: Item[];
  total: number;
  next?: string;
}

export interface Summary {
  total: number;
  active: number;
  resolved: number;
  bySeveritySource: Record<string, Record<string, number>>;
  bySeverity: Record<string, number>;
  bySource: Record<string, number>;
  byNamespace: Record<string, number>;
  topResources: { kind: string; namespace: string; name: string; count: number; worst: string }[];
  hourly: {
    hour: string;
    new: number;
    resolved: number;
    bySeverity: Record<string, number>;
    bySource: Record<string, number>;
  }[];
}

export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export interface ResourceView {
  resource: ResourceKey;
  owners: ResourceKey[];
  related: ResourceKey[];
  bySource: Record<string, number>;
  bySeverity: Record<string, number>;
  items: Item[];
}

export interface Detail {
  item: Item;
  occurrences: { count: number; observations: number; firstSeen: string; lastSeen: string };
  owners: ResourceKey[];
  observation: { spec?: { details?: unknown }; [k: string]: unknown };
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const TOKEN_KEY = 'zen-watcher-token';
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(): Record<string, string> {
  const t = token.get();
  return t ? { authorization: `Bearer ${t}` } : {};
}

export async function get<T>(path: string, params?: Record<string, string | undefined>): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== '') qs.set(k, v);
  const url = `../api/v1/${path}${qs.size ? `?${qs}` : ''}`;
  const r = await fetch(url, { headers: headers() });
  const body = (await r.json().catch(() => ({}))) as { reason?: string };
  if (!r.ok) throw new ApiError(r.status, body.reason ?? `HTTP ${r.status}`);
  return body as T;
}

export type StreamEvent = { type: 'upsert'; item: Item } | { type: 'delete'; namespace: string; name: string };

/**
 * The live stream (server-sent events), read with fetch so the Authorization header can be sent (EventSource
 * cannot); reconnects after a pause until `signal` aborts.
 */
export async function stream(
  params: Record<string, string | undefined>,
  onEvent: (e: StreamEvent) => void,
  onState: (connected: boolean) => void,
  signal: AbortSignal,
): Promise<void> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) qs.set(k, v);
  while (!signal.aborted) {
    try {
      const r = await fetch(`../api/v1/stream${qs.size ? `?${qs}` : ''}`, { headers: headers(), signal });
      if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
      onState(true);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          i = buf.indexOf('\n\n');
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (!data) continue;
          const parsed = JSON.parse(data);
          if (type === 'upsert') onEvent({ type, item: parsed as Item });
          else if (type === 'delete') onEvent({ type, namespace: parsed.namespace, name: parsed.name });
        }
      }
    } catch {
      // reconnect below
    }
    onState(false);
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}
