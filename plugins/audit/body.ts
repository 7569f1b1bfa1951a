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

export interface BodyItems {
  /** The items, in body order (an EventList body's own `items` array, not a copy). */
  values: readonly unknown[];
  /**
   * Field path of item `i` in the body: `items[3]`, `[2]`, `[2].items[0]`, or '' for a single-Event body. Worked out
   * only for an item that needs one (a bad item), not for each of the 400 events of a webhook batch.
   */
  at(i: number): string;
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

/** An EventList's items (checked to be an array; none when null). */
function listItems(o: Record<string, unknown>, at: string): readonly unknown[] {
  checkApiVersion(o, at ? `${at}.` : '');
  const items = o.items;
  if (items === null || items === undefined) return []; // Go encodes an empty slice as null
  if (!Array.isArray(items)) {
    throw payloadError(`EventList items must be an array, got ${describeValue(items)}`, at ? `${at}.items` : 'items');
  }
  return items;
}

const isList = (value: unknown) => isObject(value) && value.kind === 'EventList';

export function bodyItems(body: unknown, maxEvents: number): BodyItems {
  let out: BodyItems;
  if (Array.isArray(body)) {
    // A JSON array / JSON Lines may hold whole EventLists (one webhook body per line, as some collectors store them).
    if (!body.some(isList)) out = { values: body, at: (i) => `[${i}]`, single: false };
    else {
      const values: unknown[] = [];
      const ats: string[] = [];
      body.forEach((value, i) => {
        if (!isList(value)) {
          values.push(value);
          ats.push(`[${i}]`);
          return;
        }
        const items = listItems(value as Record<string, unknown>, `[${i}]`);
        items.forEach((item, j) => {
          values.push(item);
          ats.push(`[${i}].items[${j}]`);
        });
      });
      out = { values, at: (i) => ats[i] ?? '', single: false };
    }
  } else if (isObject(body)) {
    const kind = body.kind;
    if (kind !== undefined && kind !== 'EventList' && kind !== 'Event') {
      throw payloadError(`expected an audit.k8s.io EventList or Event, got kind ${JSON.stringify(kind)}`, 'kind');
    }
    if (isEventList(body)) out = { values: listItems(body, ''), at: (i) => `items[${i}]`, single: false };
    else {
      checkApiVersion(body, '');
      out = { values: [body], at: () => '', single: true };
    }
  } else {
    throw payloadError(
      `expected an audit.k8s.io EventList, an Event, or an array / JSON Lines of Events; got ${describeValue(body)}`,
      '(body)',
    );
  }
  if (out.values.length > maxEvents) {
    throw payloadError(
      `${out.values.length} events in one request; this Ingester accepts at most ${maxEvents} (config.maxEvents)`,
      Array.isArray(body) ? '(body)' : 'items',
    );
  }
  return out;
}
