/**
 * The signal a webhook handler gets: aborted when the client goes away or after `timeoutMs`. Made only if the
 * handler reads it (issue #18): most taps never do, and an AbortController, a timer and a listener per request were
 * a visible share of the main thread's time and garbage. Read late, it behaves as if made at the start: it is
 * already aborted if the client went away or the time is up, else it aborts at the original deadline.
 */
/** Where the client's abort comes from: a signal, or a function that makes one when first asked (lazily too). */
export type ClientSignal = AbortSignal | (() => AbortSignal);

const timeoutError = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

export class RequestSignal {
  readonly #deadline: number;
  readonly #client: ClientSignal | undefined;
  #ac: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #clientSignal: AbortSignal | undefined;
  #onClient: (() => void) | undefined;
  #done = false;

  constructor(timeoutMs: number, client?: ClientSignal) {
    this.#deadline = performance.now() + timeoutMs;
    this.#client = client;
  }

  /** The request's signal, made on first use. */
  get signal(): AbortSignal {
    if (this.#ac) return this.#ac.signal;
    const ac = new AbortController();
    this.#ac = ac;
    const client = typeof this.#client === 'function' ? this.#client() : this.#client;
    if (client?.aborted) {
      ac.abort(client.reason);
      return ac.signal;
    }
    const left = this.#deadline - performance.now();
    if (left <= 0) {
      ac.abort(timeoutError());
      return ac.signal;
    }
    if (this.#done) return ac.signal; // read after the handler returned: nothing will abort it any more
    // A timer only for a signal that was read: the few handlers that use it.
    this.#timer = setTimeout(abortTimedOut, Math.ceil(left), ac);
    if (client) {
      this.#clientSignal = client;
      this.#onClient = () => ac.abort(client.reason);
      client.addEventListener('abort', this.#onClient, { once: true });
    }
    return ac.signal;
  }

  /** The handler returned: release the timer and the listener, if the signal was ever made. */
  done(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#onClient) this.#clientSignal?.removeEventListener('abort', this.#onClient);
  }
}

function abortTimedOut(ac: AbortController): void {
  ac.abort(timeoutError());
}

/**
 * An onWebhook request as a tap sees it: the request's fields and its `signal`, made when the tap first reads it.
 * A class with the getter on its prototype (an object literal with a getter per request cost 20× more to make).
 */
export class WebhookTapRequest<Ingester> {
  readonly ingester: Ingester;
  readonly body: unknown;
  readonly rawBody: Buffer;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly contentType: string;
  readonly jsonLines: boolean;
  readonly #signal: RequestSignal;

  constructor(
    request: {
      body: unknown;
      rawBody: Buffer;
      headers: Readonly<Record<string, string | string[] | undefined>>;
      contentType: string;
      jsonLines: boolean;
    },
    ingester: Ingester,
    signal: RequestSignal,
  ) {
    this.ingester = ingester;
    this.body = request.body;
    this.rawBody = request.rawBody;
    this.headers = request.headers;
    this.contentType = request.contentType;
    this.jsonLines = request.jsonLines;
    this.#signal = signal;
  }

  get signal(): AbortSignal {
    return this.#signal.signal;
  }
}
