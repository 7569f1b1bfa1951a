/**
 * One `audit.k8s.io` Event, checked and normalized. Parsing is lenient about leaf values (a non-string annotation
 * value is ignored, an unparsable timestamp is treated as absent) and strict about structure: an item that is not an
 * object, lacks `auditID`/`stage`/`verb`, or has an object field of the wrong type is a bad event (the caller counts
 * and skips it). Accepts `audit.k8s.io/v1` and the older v1beta1/v1alpha1 shapes, with or without `kind`/`apiVersion`
 * (webhook EventList items carry neither).
 */

export const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type Stage = (typeof STAGES)[number];

export interface AuditUser {
  username?: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectRef {
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  /** The API group as matched by rules: `objectRef.apiGroup`, else the group part of a v1alpha1 `group/version`, else '' (core). */
  group: string;
  /** The version alone (`v1`), when known. */
  version?: string;
  /** `objectRef.apiGroup` as sent ('' / absent for the core group). */
  apiGroup?: string;
  /** `objectRef.apiVersion` as sent. */
  apiVersion?: string;
}

export interface AuditResponseStatus {
  code?: number;
  status?: string;
  reason?: string;
  message?: string;
}

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  level?: string;
  requestURI?: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: AuditResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  annotations: Record<string, string>;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  /** v1alpha1/v1beta1 only. */
  timestamp?: string;
}

export type EventErrorReason = 'not_object' | 'missing_field' | 'wrong_type' | 'wrong_kind' | 'wrong_api_version';

export class EventError extends Error {
  readonly reason: EventErrorReason;
  /** Path inside the event, e.g. `stage` or `objectRef.namespace` ('' = the event itself). */
  readonly field: string;
  constructor(reason: EventErrorReason, field: string, message: string) {
    super(message);
    this.name = 'EventError';
    this.reason = reason;
    this.field = field;
  }
}

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An absent or null field is undefined; a present field of another type is an error. */
function optString(o: Obj, key: string, at: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new EventError('wrong_type', at + key, `${at + key} must be a string`);
  return v;
}

function reqString(o: Obj, key: string): string {
  const v = optString(o, key, '');
  if (v === undefined || v === '') throw new EventError('missing_field', key, `${key} is required`);
  return v;
}

function optObject(o: Obj, key: string, at: string): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new EventError('wrong_type', at + key, `${at + key} must be an object`);
  return v;
}

/** The strings of an array field: the parsed array itself when it holds only strings (the usual case), no copy. */
function stringArray(o: Obj, key: string, at: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new EventError('wrong_type', at + key, `${at + key} must be an array`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') return v.filter((x): x is string => typeof x === 'string');
  }
  return v as string[];
}

/**
 * What the API server writes (metav1.MicroTime, RFC 3339 in UTC): every string of this form is a valid date for
 * `Date.parse`, so it needs no parse; anything else is asked of `Date.parse` (issue #18: three parses per event).
 */
const RFC3339_UTC =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z$/;

/** A timestamp field, when it is a string `Date.parse` understands; otherwise treated as absent. */
export function timestamp(o: Obj, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && (RFC3339_UTC.test(v) || !Number.isNaN(Date.parse(v))) ? v : undefined;
}

/** The annotations whose values are strings: the parsed object itself when all are (the usual case), no copy. */
function stringValues(o: Obj): Record<string, string> {
  for (const k in o) {
    if (Object.hasOwn(o, k) && typeof o[k] !== 'string') {
      // fromEntries defines own properties: a key such as `__proto__` stays data, never a prototype.
      return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    }
  }
  return o as Record<string, string>;
}

function parseUser(o: Obj | undefined, at: string): AuditUser {
  if (!o) return { groups: [] };
  const user: AuditUser = { groups: stringArray(o, 'groups', at) };
  const username = optString(o, 'username', at);
  if (username !== undefined) user.username = username;
  const uid = optString(o, 'uid', at);
  if (uid !== undefined) user.uid = uid;
  const extra = optObject(o, 'extra', at);
  if (extra) {
    // fromEntries defines own properties: a key such as `__proto__` stays data, never a prototype.
    const out: Record<string, string[]> = Object.fromEntries(
      Object.entries(extra)
        .filter(([, v]) => Array.isArray(v))
        .map(([k, v]) => [k, (v as unknown[]).filter((x): x is string => typeof x === 'string')]),
    );
    if (Object.keys(out).length) user.extra = out;
  }
  return user;
}

/** The objectRef fields as sent, in the order they are kept (details.objectRef has this order). */
export const OBJECT_REF_FIELDS = [
  'resource',
  'subresource',
  'namespace',
  'name',
  'uid',
  'apiGroup',
  'apiVersion',
] as const;

function parseObjectRef(o: Obj): AuditObjectRef {
  const at = 'objectRef.';
  const ref: AuditObjectRef = { group: '' };
  for (const key of OBJECT_REF_FIELDS) {
    const v = optString(o, key, at);
    if (v !== undefined && v !== '') ref[key] = v;
  }
  // v1: apiGroup + apiVersion ("v1"); v1alpha1 put "group/version" in apiVersion and had no apiGroup.
  if (ref.apiGroup) ref.group = ref.apiGroup;
  const apiVersion = ref.apiVersion;
  if (apiVersion !== undefined) {
    const slash = apiVersion.lastIndexOf('/');
    if (slash >= 0 && !ref.apiGroup) ref.group = apiVersion.slice(0, slash);
    const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;
    if (version !== '') ref.version = version;
  }
  return ref;
}

function parseResponseStatus(o: Obj): AuditResponseStatus {
  const at = 'responseStatus.';
  const out: AuditResponseStatus = {};
  const code = o.code;
  if (code !== undefined && code !== null) {
    if (typeof code !== 'number' || !Number.isInteger(code)) {
      throw new EventError('wrong_type', `${at}code`, `${at}code must be an integer`);
    }
    out.code = code;
  }
  for (const key of ['status', 'reason', 'message'] as const) {
    const v = o[key];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return out;
}

/** Check and normalize one event; throws EventError for a bad one. */
export function parseEvent(item: unknown): AuditEvent {
  if (!isObject(item)) throw new EventError('not_object', '', 'an audit event must be a JSON object');
  const kind = item.kind;
  if (kind !== undefined && kind !== 'Event') {
    throw new EventError('wrong_kind', 'kind', `expected kind Event, got ${JSON.stringify(kind)}`);
  }
  const apiVersion = item.apiVersion;
  if (apiVersion !== undefined && (typeof apiVersion !== 'string' || !apiVersion.startsWith('audit.k8s.io/'))) {
    throw new EventError(
      'wrong_api_version',
      'apiVersion',
      `expected apiVersion audit.k8s.io/*, got ${JSON.stringify(apiVersion)}`,
    );
  }
  const event: AuditEvent = {
    auditID: reqString(item, 'auditID'),
    stage: reqString(item, 'stage'),
    verb: reqString(item, 'verb'),
    user: parseUser(optObject(item, 'user', ''), 'user.'),
    sourceIPs: stringArray(item, 'sourceIPs', ''),
    annotations: {},
  };
  const level = optString(item, 'level', '');
  if (level !== undefined) event.level = level;
  const requestURI = optString(item, 'requestURI', '');
  if (requestURI !== undefined) event.requestURI = requestURI;
  const userAgent = optString(item, 'userAgent', '');
  if (userAgent !== undefined) event.userAgent = userAgent;
  const imp = optObject(item, 'impersonatedUser', '');
  if (imp) event.impersonatedUser = parseUser(imp, 'impersonatedUser.');
  const ref = optObject(item, 'objectRef', '');
  if (ref) event.objectRef = parseObjectRef(ref);
  const status = optObject(item, 'responseStatus', '');
  if (status) event.responseStatus = parseResponseStatus(status);
  if (item.requestObject !== undefined && item.requestObject !== null) event.requestObject = item.requestObject;
  if (item.responseObject !== undefined && item.responseObject !== null) event.responseObject = item.responseObject;
  const annotations = optObject(item, 'annotations', '');
  if (annotations) event.annotations = stringValues(annotations);
  for (const key of ['requestReceivedTimestamp', 'stageTimestamp', 'timestamp'] as const) {
    const t = timestamp(item, key);
    if (t !== undefined) event[key] = t;
  }
  return event;
}
