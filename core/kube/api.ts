/**
 * A thin object-style API over any resource by group/version/plural (core group = ''), for the host: Observations,
 * Ingesters and their status. Errors are client-node's `ApiException` (`.code` = HTTP status) or
 * `KubeTransportError` (no status). Every call takes an optional `signal`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeConnection, type KubeConnectionOptions, resourcePath } from './request.ts';

export interface ResourceRef {
  group: string;
  version: string;
  /** Plural, e.g. `observations`. */
  plural: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
}

interface Call {
  signal?: AbortSignal;
}

export interface ListParams extends ResourceRef, Call {
  /** Omitted = all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface NameParams extends ResourceRef, Call {
  namespace?: string;
  name: string;
}

export type PatchType = 'merge' | 'json' | 'apply';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface KubeApi {
  list<T = KubeObject>(p: ListParams): Promise<KubeList<T>>;
  get<T = KubeObject>(p: NameParams): Promise<T>;
  create<T = KubeObject>(
    p: ResourceRef & Call & { namespace?: string; body: unknown; fieldManager?: string },
  ): Promise<T>;
  /**
   * DELETE with optional preconditions: the server refuses (409) if the object now has another uid (deleted and
   * re-created under the same name) or another resourceVersion.
   */
  delete(
    p: NameParams & { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string },
  ): Promise<void>;
  patch<T = KubeObject>(
    p: NameParams & {
      body: unknown;
      /** Default `merge`. `apply` (server-side apply) needs `fieldManager`. */
      type?: PatchType;
      subresource?: 'status';
      fieldManager?: string;
      force?: boolean;
    },
  ): Promise<T>;
  /** PUT: replaces the object; the server refuses (409) unless body.metadata.resourceVersion is still current. */
  replace<T = KubeObject>(p: NameParams & { body: unknown }): Promise<T>;
  /** Closes the API's connection. */
  close(): Promise<void>;
}

/** A KubeApi on its own connection (so its writes never queue behind another component's traffic). */
export function createKubeApi(kc: KubeConfig, opts: KubeConnectionOptions = {}): KubeApi {
  const conn = new KubeConnection(kc, opts);
  const path = (p: ResourceRef & { namespace?: string; name?: string }, sub?: string) =>
    resourcePath({ group: p.group, version: p.version, resource: p.plural, namespace: p.namespace, name: p.name }) +
    (sub ? `/${sub}` : '');
  return Object.freeze({
    list: <T>(p: ListParams) =>
      conn.json<KubeList<T>>({
        path: path(p),
        query: {
          labelSelector: p.labelSelector,
          fieldSelector: p.fieldSelector,
          limit: p.limit,
          continue: p.continue,
          resourceVersion: p.resourceVersion,
        },
        signal: p.signal,
      }),
    get: <T>(p: NameParams) => conn.json<T>({ path: path(p), signal: p.signal }),
    create: <T>(p: ResourceRef & Call & { namespace?: string; body: unknown; fieldManager?: string }) =>
      conn.json<T>({
        method: 'POST',
        path: path(p),
        body: p.body,
        query: { fieldManager: p.fieldManager },
        signal: p.signal,
      }),
    delete: async (
      p: NameParams & { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string },
    ) => {
      await conn.json<unknown>({
        method: 'DELETE',
        path: path(p),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(p.preconditions ? { preconditions: p.preconditions } : {}),
          ...(p.propagationPolicy ? { propagationPolicy: p.propagationPolicy } : {}),
        },
        signal: p.signal,
      });
    },
    patch: <T>(
      p: NameParams & {
        body: unknown;
        type?: PatchType;
        subresource?: 'status';
        fieldManager?: string;
        force?: boolean;
      },
    ) =>
      conn.json<T>({
        method: 'PATCH',
        path: path(p, p.subresource),
        body: p.body,
        contentType: PATCH_CONTENT_TYPES[p.type ?? 'merge'],
        query: { fieldManager: p.fieldManager, force: p.force },
        signal: p.signal,
      }),
    replace: <T>(p: NameParams & { body: unknown }) =>
      conn.json<T>({ method: 'PUT', path: path(p), body: p.body, signal: p.signal }),
    close: () => conn.close(),
  });
}
