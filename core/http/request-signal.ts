/**
 * The signal a webhook handler gets: aborted when the client goes away or after `timeoutMs`. One AbortController
 * and one timer, both released by `done()` when the handler returns; `AbortSignal.timeout()` + `AbortSignal.any()`
 * per request did the same for more (a timer that outlived the request, and a composite signal per request).
 */
export function requestSignal(timeoutMs: number, client?: AbortSignal): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  if (client?.aborted) {
    ac.abort(client.reason);
    return { signal: ac.signal, done: () => {} };
  }
  const timer = setTimeout(
    () => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    timeoutMs,
  );
  const onClient = () => ac.abort(client!.reason);
  client?.addEventListener('abort', onClient, { once: true });
  return {
    signal: ac.signal,
    done: () => {
      clearTimeout(timer);
      client?.removeEventListener('abort', onClient);
    },
  };
}
