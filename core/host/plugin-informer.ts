/**
 * What the host adds to a plugin informer (`api.kube.informer`) beyond core/kube's `createInformer`:
 *
 * - The plugin's `transform` (plugin API 1.2.0), wrapped so the result always carries the identity the informer
 *   keys and diffs by (`metadata.name`, `namespace`, `uid`, `resourceVersion`), even when the plugin kept less.
 * - List pages sized by bytes, not only by count: a plugin watches reports that are often 50–100 KB each (Trivy,
 *   Kyverno), and a page is held whole — as received text, then as parsed objects (several times the text) —
 *   until its items have been transformed. 500 reports of 100 KB would be 50 MB of text and some 300 MB parsed;
 *   pages of about 512 KB keep that to one small page at a time (the informer adapts the limit after each page;
 *   2 MB until ADR 0027).
 */
import { zwError } from '../api/errors.ts';
import { describeValue } from '../api/helpers.ts';
import type { InformerOptions } from '../api/plugin.ts';
import type { InformerTiming } from '../kube/informer.ts';
import { metaOf } from '../kube/store.ts';

/** Items per list page of a plugin informer, at most (see above). */
export const PLUGIN_INFORMER_PAGE_SIZE = 500;
/** Bytes per list page a plugin informer aims for: about 5 reports of 100 KB, 128 ConfigMaps of 4 KB (ADR 0027). */
export const PLUGIN_INFORMER_PAGE_BYTES = 512 * 1024;

export const pluginInformerTiming: InformerTiming = Object.freeze({
  pageSize: PLUGIN_INFORMER_PAGE_SIZE,
  pageBytes: PLUGIN_INFORMER_PAGE_BYTES,
});

/** The plugin's transform, made safe for the informer's store; undefined without one. */
export function pluginTransform(options: InformerOptions): ((obj: unknown) => unknown) | undefined {
  const transform = options.transform;
  if (transform === undefined) return undefined;
  if (typeof transform !== 'function')
    throw zwError('ZW_ERR_INVALID_ARGUMENT', { detail: 'informer: options.transform must be a function' });
  return (obj: unknown) => {
    const out = transform(obj);
    if (out === null || typeof out !== 'object' || Array.isArray(out)) {
      throw zwError('ZW_ERR_INVALID_ARGUMENT', {
        detail: `transform returned ${describeValue(out)}, not an object`,
      });
    }
    const m = metaOf(obj);
    const kept = metaOf(out);
    if (
      kept.name === m.name &&
      kept.namespace === m.namespace &&
      kept.uid === m.uid &&
      kept.resourceVersion === m.resourceVersion
    ) {
      return out;
    }
    const identity: Record<string, string> = {};
    for (const k of ['name', 'namespace', 'uid', 'resourceVersion'] as const) {
      if (typeof m[k] === 'string') identity[k] = m[k];
    }
    return { ...out, metadata: { ...(kept as object), ...identity } };
  };
}
