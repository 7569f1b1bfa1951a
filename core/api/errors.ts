/**
 * The one table of error codes (docs/ERRORS.md lists the same rows; errors.test.ts keeps the two equal): every
 * `ZW_ERR_*` code with its HTTP status and message template. Tests assert on `code` (or `instanceof`), never on the
 * text. Plugins throw `payloadError()` (a ZwError `ZW_ERR_PAYLOAD_INVALID`) for input they cannot use; the host
 * answers it 422 (or 400).
 *
 * `status` is what the HTTP layer answers when the error reaches a client; errors that never reach one (startup,
 * leader election, plugin loading) carry 500. A template's `{name}` placeholders are filled by `zwError(code, …)`.
 */

export const ERRORS = Object.freeze({
  // HTTP: answered to webhook clients.
  ZW_ERR_BAD_JSON: { status: 400, message: 'the body is not valid JSON: {detail}' },
  ZW_ERR_UNAUTHORIZED: { status: 401, message: 'missing or invalid credentials' },
  ZW_ERR_FORBIDDEN: { status: 403, message: '{detail}' },
  ZW_ERR_BAD_QUERY: { status: 400, message: '{detail}' },
  ZW_ERR_INTERNAL: { status: 500, message: '{detail}' },
  ZW_ERR_NOT_FOUND: { status: 404, message: 'no Ingester serves {path}' },
  ZW_ERR_METHOD_NOT_ALLOWED: { status: 405, message: '{method} is not allowed on {path}' },
  ZW_ERR_BODY_TOO_LARGE: { status: 413, message: 'the body exceeds {limit} bytes' },
  ZW_ERR_URI_TOO_LONG: { status: 414, message: 'the request target exceeds {limit} bytes' },
  ZW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'content-type {type} is not JSON or JSON Lines' },
  ZW_ERR_PAYLOAD_INVALID: { status: 422, message: '{detail}' },
  ZW_ERR_RATE_LIMITED: { status: 429, message: 'too many requests; retry after {seconds} s' },
  ZW_ERR_PLUGIN_FAILED: { status: 500, message: "source plugin '{plugin}' failed to process the request" },
  ZW_ERR_DELIVERY_FAILED: { status: 502, message: '{detail}' },
  ZW_ERR_QUEUE_FULL: { status: 503, message: 'too much accepted work not yet written; retry after {seconds} s' },
  ZW_ERR_NOT_READY: { status: 503, message: 'not ready: {reason}' },
  ZW_ERR_WRITE_PENDING: {
    status: 503,
    message:
      'the write of {count} event(s) is still under way after {ms} ms: nothing is acknowledged yet; retrying is safe',
  },

  // Plugin API: a plugin used the host API in a way the host refuses (thrown into the plugin).
  ZW_ERR_PLUGIN_API: { status: 500, message: "plugin '{plugin}': {detail}" },
  ZW_ERR_INGESTER_INACTIVE: { status: 500, message: 'Ingester {ingester} is not active' },
  ZW_ERR_NOT_OWNER: {
    status: 500,
    message: "plugin '{plugin}' cannot {action} for Ingester {ingester}: it is served by '{handler}'",
  },
  ZW_ERR_RECONCILE_WEBHOOK: {
    status: 500,
    message: 'reconcile is for informer Ingesters; {ingester} is a {type} Ingester (use emit)',
  },
  ZW_ERR_NEEDS_KUBERNETES: { status: 500, message: '{what} needs kubernetes mode' },
  ZW_ERR_NAMESPACE_NOT_WATCHED: {
    status: 500,
    message: "namespace '{namespace}' is outside WATCH_NAMESPACE ({watched})",
  },
  ZW_ERR_HOOK_TIMEOUT: { status: 500, message: "plugin '{plugin}' did not finish {hook} within {ms} ms" },

  // Plugin loading (PluginRecord.code; `zen-watcher plugins list` shows them).
  ZW_ERR_PLUGIN_MANIFEST: { status: 500, message: 'invalid manifest in package.json: {detail}' },
  ZW_ERR_PLUGIN_HOST_API: { status: 500, message: 'needs host plugin API {range}; this host has {version}' },
  ZW_ERR_PLUGIN_DUPLICATE: { status: 500, message: "another plugin named '{name}' was loaded first from {dir}" },
  ZW_ERR_PLUGIN_SCHEMA: { status: 500, message: 'configSchema does not compile: {detail}' },
  ZW_ERR_PLUGIN_IMPORT: { status: 500, message: 'importing {entry} threw: {detail}' },
  ZW_ERR_PLUGIN_SHAPE: {
    status: 500,
    message: '{entry} must default-export definePlugin({ name, register })',
  },
  ZW_ERR_PLUGIN_REGISTER: { status: 500, message: 'register() failed: {detail}' },
  ZW_ERR_PLUGIN_NOT_LOADED: { status: 500, message: 'plugin in {dir} did not load: {detail}' },
  ZW_ERR_PLUGIN_PATH: { status: 500, message: '{detail}' },
  ZW_ERR_PLUGIN_DISABLED: { status: 503, message: "plugin '{plugin}' is disabled: {reason}" },

  // Configuration and startup.
  ZW_ERR_CONFIG: { status: 500, message: '{variable}: {detail}' },
  ZW_ERR_INGESTER_INVALID: { status: 500, message: 'invalid Ingester: {detail}' },
  ZW_ERR_CREDENTIALS: { status: 500, message: 'webhook credentials: {detail}' },
  ZW_ERR_STARTUP_TIMEOUT: { status: 500, message: '{what} did not complete within {seconds} s' },
  ZW_ERR_INVALID_ARGUMENT: { status: 500, message: '{detail}' },
  ZW_ERR_USAGE: { status: 500, message: '{detail}' },

  // Kubernetes and leader election.
  ZW_ERR_KUBE_CONFIG: { status: 500, message: 'kubernetes: {detail}' },
  ZW_ERR_KUBE_UNREACHABLE: { status: 500, message: 'kubernetes: API server {server} {detail}' },
  ZW_ERR_KUBE_TRANSPORT: { status: 500, message: '{request}: {detail}' },
  ZW_ERR_KUBE_WATCH: { status: 500, message: 'watch: {detail}' },
  ZW_ERR_KUBE_DISCOVERY: { status: 500, message: 'Discovery: {resource} failed: {detail}' },
  ZW_ERR_LEADER_CONFIG: { status: 500, message: 'leader election: {detail}' },
  ZW_ERR_LEADER_LOCK: { status: 500, message: '{detail}' },
  ZW_ERR_LEADER_STOP_DEADLINE: { status: 500, message: 'leader work did not stop within the renew deadline ({ms} ms)' },
  ZW_ERR_ABORTED: { status: 500, message: '{reason}' },

  // Destinations.
  ZW_ERR_DESTINATION: { status: 500, message: '{detail}' },

  // Storage.
  ZW_ERR_SINK_WRITE: { status: 503, message: '{detail}' },
  ZW_ERR_STORE_OPEN: { status: 500, message: 'cannot open the store {path}: {detail}' },
} as const satisfies Record<string, { status: number; message: string }>);

export type ErrorCode = keyof typeof ERRORS;

/**
 * The codes a webhook client may see as such. Any other error that reaches the HTTP layer is answered as
 * ZW_ERR_PLUGIN_FAILED "internal error" (its message is logged, never sent).
 */
export const CLIENT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ZW_ERR_BAD_JSON',
  'ZW_ERR_UNAUTHORIZED',
  'ZW_ERR_FORBIDDEN',
  'ZW_ERR_BAD_QUERY',
  'ZW_ERR_NOT_FOUND',
  'ZW_ERR_METHOD_NOT_ALLOWED',
  'ZW_ERR_BODY_TOO_LARGE',
  'ZW_ERR_URI_TOO_LONG',
  'ZW_ERR_UNSUPPORTED_MEDIA_TYPE',
  'ZW_ERR_PAYLOAD_INVALID',
  'ZW_ERR_RATE_LIMITED',
  'ZW_ERR_PLUGIN_FAILED',
  'ZW_ERR_PLUGIN_DISABLED',
  'ZW_ERR_DELIVERY_FAILED',
  'ZW_ERR_QUEUE_FULL',
  'ZW_ERR_NOT_READY',
  'ZW_ERR_WRITE_PENDING',
]);

/** Code → HTTP status (the table without templates; kept for plugins written against 1.0). */
export const ERROR_CODES: Readonly<{ [C in ErrorCode]: (typeof ERRORS)[C]['status'] }> = Object.freeze(
  Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.status])) as {
    [C in ErrorCode]: (typeof ERRORS)[C]['status'];
  },
);

const BRAND = Symbol.for('zen-watcher.ZwError');

/** An error with a code, an HTTP status and, when the problem is in the input, the field path at fault. */
export class ZwError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    opts: { field?: string; cause?: unknown; retryAfterSeconds?: number; status?: number } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ZwError';
    this.code = code;
    this.status = opts.status ?? ERRORS[code].status;
    this.field = opts.field;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `err instanceof ZwError` holds for every ZwError (and subclass) even when the plugin and the host hold two
   * copies of this module (an SDK installed next to the host): the check is by a global brand, not by prototype.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    // Subclasses keep prototype semantics (`err instanceof SinkWriteError`); ZwError itself matches any branded.
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof was asked about (a subclass too)
    return this === ZwError || Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** The message of `code` with its `{placeholders}` filled from `params` (a missing one stays visible). */
export function errorMessage(code: ErrorCode, params: Readonly<Record<string, unknown>> = {}): string {
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

/** A ZwError whose message is the table's template for `code`, filled from `params`. */
export function zwError(
  code: ErrorCode,
  params: Readonly<Record<string, unknown>> = {},
  opts: { field?: string; cause?: unknown; retryAfterSeconds?: number; status?: number } = {},
): ZwError {
  return new ZwError(code, errorMessage(code, params), opts);
}

/**
 * For plugins: the body is valid JSON but not a payload this source understands (HTTP 422), or it is not even
 * the right container (`status: 400`). `field` is a dot path into the body, e.g. `items[3].stage`.
 */
export function payloadError(message: string, field?: string, status: 400 | 422 = 422): ZwError {
  return new ZwError('ZW_ERR_PAYLOAD_INVALID', message, { status, ...(field !== undefined ? { field } : {}) });
}

/** Same as `err instanceof ZwError` (kept for plugins written against 1.0). */
export function isZwError(err: unknown): err is ZwError {
  return err instanceof ZwError;
}
