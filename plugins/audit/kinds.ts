/**
 * objectRef names a resource (`pods`, plural, lower case), not a kind. The Observation's `resource.kind` comes from,
 * in order: the plugin API's table of built-in resources (`builtinKind`, keyed by API group), then the `kind` of the request/response object
 * when the event carries one (RequestResponse/Request level, no subresource), else it is left out rather than guessed
 * (`details.objectRef.resource` always has the resource).
 */
import { builtinKind } from 'zen-watcher/plugin-api';
import { isObject } from './event.ts';

/** Kinds that describe the request, not the object the request is about. */
const NOT_THE_OBJECT = new Set([
  'Status',
  'DeleteOptions',
  'Table',
  'PartialObjectMetadata',
  'WatchEvent',
  'Scale',
  'Eviction',
  'Binding',
  'TokenRequest',
]);

function objectKind(obj: unknown, apiVersion: string | undefined): string | undefined {
  if (!isObject(obj)) return undefined;
  const kind = obj.kind;
  if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]{0,62}$/.test(kind)) return undefined;
  if (NOT_THE_OBJECT.has(kind) || kind.endsWith('List')) return undefined;
  // The object's apiVersion must agree with objectRef's when both are known (guards against e.g. meta/v1 kinds).
  if (apiVersion !== undefined && typeof obj.apiVersion === 'string' && obj.apiVersion !== apiVersion) return undefined;
  return kind;
}

/**
 * The kind of the object an event is about. `group` is '' for the core group; `apiVersion` is the full
 * `group/version` (or `v1`) when known. Subresource requests name the parent object (pods/exec → Pod), so only the
 * table is used for them: the request/response object of a subresource is a different kind (Scale, Eviction, ...).
 */
export function kindOf(
  group: string,
  resource: string | undefined,
  subresource: string | undefined,
  apiVersion: string | undefined,
  objects: readonly unknown[],
): string | undefined {
  if (resource === undefined) return undefined;
  const known = builtinKind(group, resource);
  if (known) return known;
  if (subresource !== undefined) return undefined;
  for (const o of objects) {
    const k = objectKind(o, apiVersion);
    if (k) return k;
  }
  return undefined;
}
