/**
 * One table of error codes: code, HTTP status, and a short reason. Tests assert on `code`, never on the text.
 * Plugins throw `PayloadError` (via `payloadError()`) for input they cannot use; the host maps it to 400/422.
 */

export const ERROR_CODES = Object.freeze({
  ZW_ERR_BAD_JSON: 400,
  ZW_ERR_UNAUTHORIZED: 401,
  ZW_ERR_NOT_FOUND: 404,
  ZW_ERR_METHOD_NOT_ALLOWED: 405,
  ZW_ERR_BODY_TOO_LARGE: 413,
  ZW_ERR_URI_TOO_LONG: 414,
  ZW_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ZW_ERR_PAYLOAD_INVALID: 422,
  ZW_ERR_RATE_LIMITED: 429,
  ZW_ERR_PLUGIN_FAILED: 500,
  ZW_ERR_DELIVERY_FAILED: 502,
  ZW_ERR_QUEUE_FULL: 503,
  ZW_ERR_NOT_READY: 503,
} as const);
export type ErrorCode = keyof typeof ERROR_CODES;

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
    this.status = opts.status ?? ERROR_CODES[code];
    this.field = opts.field;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/**
 * For plugins: the body is valid JSON but not a payload this source understands (HTTP 422), or it is not even
 * the right container (`status: 400`). `field` is a dot path into the body, e.g. `items[3].stage`.
 */
export function payloadError(message: string, field?: string, status: 400 | 422 = 422): ZwError {
  return new ZwError('ZW_ERR_PAYLOAD_INVALID', message, { status, ...(field !== undefined ? { field } : {}) });
}

export function isZwError(err: unknown): err is ZwError {
  return (
    err instanceof ZwError ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'ZwError')
  );
}
