/**
 * The shape of a request body: which items in it are audit events, and where they are (a field path for errors).
 *
 * Accepted: an `EventList` (what the audit webhook backend sends: `{kind: EventList, apiVersion: audit.k8s.io/v1,
 * items: [...]}`, items without kind/apiVersion), one `Event`, or an array of either (a JSON array, or JSON Lines
 * which the host has already parsed into an array — what the log backend writes). Anything else is refused whole
 * (`payloadError` → HTTP 422 naming the field); bad items inside an accepted container are the caller's to count.
 */
import { describeValue, payloadError } from 'zen-watcher/plugin-api';
import { isObject } from './event.ts';

export interface BodyItem {
  value: unknown;
  /** Field path of the item in the body: `items[3]`, `[2]`, `[2].items[0]`, or '' for a single-Event body. */
  at: string;
}

export interface BodyItems {
  items: BodyItem[];
  /** True when the body is one Event (not a list): a bad event then refuses the request. */
  single: boolean;
}

function checkApiVersion(o: Record<string, unknown>, at: string): void {
  const v = o.apiVersion;
  if (v !== undefined && (typeof v !== 'string' || !v.startsWith('audit.k8s.io/'))) {
    throw payloadError(
      `expected apiVersion audit.k8s.io/v1 (or an older audit.k8s.io version), got ${JSON.stringify(v)}`,
      `${at}apiVersion`,
    );
  }
}

/** An object that is an EventList: `kind: EventList`, or no kind and an `items` field. */
function isEventList(o: Record<string, unknown>): boolean {
  return o.kind === 'EventList' || (o.kind === undefined && 'items' in o && !('auditID' in o));
}

function listItems(o: Record<string, unknown>, at: string, out: BodyItem[]): void {
  checkApiVersion(o, at ? `${at}.` : '');
  const items = o.items;
  const field = at ? `${at}.items` : 'items';
  if (items === null || items === undefined) return; // Go encodes an empty slice as null
  if (!Array.isArray(items)) throw payloadError(`EventList items must be an array, got ${describeValue(items)}`, field);
  items.forEach((value, i) => {
    out.push({ value, at: `${field}[${i}]` });
  });
}

export function bodyItems(body: unknown, maxEvents: number): BodyItems {
  const out: BodyItem[] = [];
  let single = false;
  if (Array.isArray(body)) {
    body.forEach((value, i) => {
      // A JSON array / JSON Lines may hold whole EventLists (one webhook body per line, as some collectors store them).
      if (isObject(value) && value.kind === 'EventList') listItems(value, `[${i}]`, out);
      else out.push({ value, at: `[${i}]` });
    });
  } else if (isObject(body)) {
    const kind = body.kind;
    if (kind !== undefined && kind !== 'EventList' && kind !== 'Event') {
      throw payloadError(`expected an audit.k8s.io EventList or Event, got kind ${JSON.stringify(kind)}`, 'kind');
    }
    if (isEventList(body)) listItems(body, '', out);
    else {
      checkApiVersion(body, '');
      out.push({ value: body, at: '' });
      single = true;
    }
  } else {
    throw payloadError(
      `expected an audit.k8s.io EventList, an Event, or an array / JSON Lines of Events; got ${describeValue(body)}`,
      '(body)',
    );
  }
  if (out.length > maxEvents) {
    throw payloadError(
      `${out.length} events in one request; this Ingester accepts at most ${maxEvents} (config.maxEvents)`,
      Array.isArray(body) ? '(body)' : 'items',
    );
  }
  return { items: out, single };
}
