/**
 * One watch request, from a resourceVersion until it ends, classified: the server closed it (`closed`), the
 * resourceVersion is too old (`gone`, HTTP 410 or an ERROR event with code 410), nothing arrived — no event and
 * no bookmark — for `stallTimeoutMs` (`stalled`), any other failure (`error`), or the caller's signal (`aborted`).
 * Events are handed over one at a time and awaited, so a slow consumer slows the reading (TCP backpressure)
 * instead of filling memory. The stall timer runs only while waiting for the server, not while the consumer works.
 */

import { ZwError } from '../api/errors.ts';
import type { KubeConnection } from './request.ts';
import { apiError, errorText, statusOf } from './request.ts';

export type WatchEnd =
  | { kind: 'closed' }
  | { kind: 'gone'; message: string }
  | { kind: 'stalled' }
  | { kind: 'error'; error: unknown; status?: number }
  | { kind: 'aborted' };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchParams {
  conn: KubeConnection;
  /** Collection path (see resourcePath). */
  path: string;
  resourceVersion: string;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Asks the server to end the watch cleanly after this long. */
  timeoutSeconds: number;
  stallTimeoutMs: number;
  signal: AbortSignal;
  /** The Accept header (KubeRequest.accept). */
  accept?: string | undefined;
  /** The server accepted the watch (HTTP 200). */
  onOpen?(): void;
  onEvent(type: WatchEventType, obj: unknown): void | Promise<void>;
}

export interface WatchResult {
  end: WatchEnd;
  /** The last resourceVersion seen (an event's or a bookmark's), or the one we started from. */
  resourceVersion: string;
  /** Events handed to onEvent (bookmarks not counted). */
  events: number;
  bookmarks: number;
}

export async function watchOnce(p: WatchParams): Promise<WatchResult> {
  const ctl = new AbortController();
  const signal = AbortSignal.any([p.signal, ctl.signal]);
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const disarm = (): void => clearTimeout(timer);
  const arm = (): void => {
    disarm();
    timer = setTimeout(() => {
      stalled = true;
      ctl.abort(new ZwError('ZW_ERR_KUBE_WATCH', `watch stalled: nothing received for ${p.stallTimeoutMs} ms`));
    }, p.stallTimeoutMs);
  };
  const result: WatchResult = {
    end: { kind: 'closed' },
    resourceVersion: p.resourceVersion,
    events: 0,
    bookmarks: 0,
  };
  const finish = (end: WatchEnd): WatchResult => {
    result.end = end;
    return result;
  };

  arm();
  try {
    const rsp = await p.conn.send({
      path: p.path,
      query: {
        watch: 'true',
        allowWatchBookmarks: 'true',
        resourceVersion: p.resourceVersion,
        timeoutSeconds: p.timeoutSeconds,
        labelSelector: p.labelSelector,
        fieldSelector: p.fieldSelector,
      },
      signal,
      timeoutMs: 0,
      ...(p.accept ? { accept: p.accept } : {}),
    });
    if (rsp.httpStatusCode !== 200) {
      const err = apiError(rsp.httpStatusCode, { path: p.path }, await rsp.body.text());
      if (rsp.httpStatusCode === 410) return finish({ kind: 'gone', message: err.message });
      return finish({ kind: 'error', error: err, status: rsp.httpStatusCode });
    }
    p.onOpen?.();
    const reader = rsp.body.stream()[Symbol.asyncIterator]();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      arm();
      const { value, done } = await reader.next();
      disarm();
      if (done) return finish({ kind: 'closed' });
      buf += decoder.decode(value, { stream: true });
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        const end = await handleLine(line, p, result, signal);
        if (end) return finish(end);
      }
    }
  } catch (err) {
    if (p.signal.aborted) return finish({ kind: 'aborted' });
    if (stalled) {
      // Nothing came: the connection itself is suspect (a blackholed network); the next request opens a new one.
      p.conn.drop();
      return finish({ kind: 'stalled' });
    }
    const status = statusOf(err);
    return finish({ kind: 'error', error: err, ...(status !== undefined ? { status } : {}) });
  } finally {
    disarm();
    ctl.abort(); // closes the response stream and its connection if still open
  }
}

/** One line of the stream; returns how the watch ends if this line ends it. */
async function handleLine(
  line: string,
  p: WatchParams,
  result: WatchResult,
  signal: AbortSignal,
): Promise<WatchEnd | undefined> {
  let ev: { type?: unknown; object?: unknown };
  try {
    ev = JSON.parse(line);
  } catch (err) {
    return { kind: 'error', error: new ZwError('ZW_ERR_KUBE_WATCH', `watch: unparsable event (${errorText(err)})`) };
  }
  if (ev.type === 'ERROR') {
    const st = (ev.object ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
    const message = `watch ${p.path}: ERROR event ${String(st.code ?? '')} ${String(st.reason ?? '')}: ${String(st.message ?? '')}`;
    if (st.code === 410) return { kind: 'gone', message };
    return {
      kind: 'error',
      error: new ZwError('ZW_ERR_KUBE_WATCH', message),
      ...(typeof st.code === 'number' ? { status: st.code } : {}),
    };
  }
  const rv = (ev.object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  if (ev.type === 'BOOKMARK') {
    if (typeof rv === 'string' && rv !== '') result.resourceVersion = rv;
    result.bookmarks++;
    return undefined;
  }
  if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') return undefined;
  if (signal.aborted) return { kind: 'aborted' };
  result.events++;
  await p.onEvent(ev.type, ev.object);
  if (typeof rv === 'string' && rv !== '') result.resourceVersion = rv;
  return undefined;
}
