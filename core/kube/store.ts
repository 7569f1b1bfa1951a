/**
 * The informer's view of the objects (pure: no I/O, no time). Keyed by namespace/name; an object is "changed" when
 * its resourceVersion differs, and "replaced" when its uid differs (deleted and re-created under the same name),
 * which is reported as delete(old) then add(new).
 */

export type Delta<T> = { type: 'add'; obj: T } | { type: 'update'; obj: T; old: T } | { type: 'delete'; obj: T };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Meta {
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

export function metaOf(obj: unknown): Meta {
  const m = (obj as { metadata?: unknown } | null)?.metadata;
  return m !== null && typeof m === 'object' ? (m as Meta) : {};
}

export function keyOf(obj: unknown): string {
  const m = metaOf(obj);
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export class ObjectStore<T> {
  #items = new Map<string, T>();

  get size(): number {
    return this.#items.size;
  }

  values(): T[] {
    return [...this.#items.values()];
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  /**
   * Replaces the whole content with a complete list. Returns what changed, in list order for adds and updates,
   * then the deletes of objects that are gone (with their last known state).
   */
  replace(items: readonly T[]): Delta<T>[] {
    const next = new Map<string, T>();
    const deltas: Delta<T>[] = [];
    for (const obj of items) {
      const key = keyOf(obj);
      next.set(key, obj);
      deltas.push(...this.#change(this.#items.get(key), obj));
    }
    for (const [key, old] of this.#items) if (!next.has(key)) deltas.push({ type: 'delete', obj: old });
    this.#items = next;
    return deltas;
  }

  /** Applies one watch event; returns what changed (nothing for a repeat of what we already have). */
  apply(type: WatchEventType, obj: T): Delta<T>[] {
    const key = keyOf(obj);
    const old = this.#items.get(key);
    if (type === 'DELETED') {
      if (old === undefined) return [];
      this.#items.delete(key);
      return [{ type: 'delete', obj }];
    }
    this.#items.set(key, obj);
    return this.#change(old, obj);
  }

  #change(old: T | undefined, obj: T): Delta<T>[] {
    if (old === undefined) return [{ type: 'add', obj }];
    const a = metaOf(old);
    const b = metaOf(obj);
    if (a.uid && b.uid && a.uid !== b.uid) {
      return [
        { type: 'delete', obj: old },
        { type: 'add', obj },
      ];
    }
    if (a.resourceVersion !== b.resourceVersion) return [{ type: 'update', obj, old }];
    return [];
  }
}
