/**
 * What the elements of the streams of one app share: loaded models, the cross-stream
 * batchers, detector worker pools. The app creates one and disposes it on stop (a stream
 * started alone gets its own, disposed when it ends); elements ask it for a resource by
 * key and the first one to ask makes it. Nothing of this lives at module level, so two
 * apps in one process (tests, embedding) never share or leak each other's models and
 * threads.
 */
export class SharedResources {
  private readonly entries = new Map<string, { value: Promise<unknown>; dispose?: (v: unknown) => void | Promise<void> }>();
  private disposed = false;

  /** The resource under `key`, made by `make` the first time; `dispose` frees it when the owner stops. */
  get<T>(key: string, make: () => T | Promise<T>, dispose?: (v: T) => void | Promise<void>): Promise<T> {
    if (this.disposed) return Promise.reject(new Error(`shared resources are disposed (asked for ${key})`));
    let entry = this.entries.get(key);
    if (!entry) {
      const value = Promise.resolve().then(make);
      const made = { value, dispose: dispose as ((v: unknown) => void | Promise<void>) | undefined };
      entry = made;
      this.entries.set(key, made);
      // a failed load is not kept: the next stream tries again
      value.catch(() => { if (this.entries.get(key) === made) this.entries.delete(key); });
    }
    return entry.value as Promise<T>;
  }

  /** The resources made so far whose key starts with `prefix` (for statistics). */
  async values<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) out.push(await (e.value as Promise<T>).catch(() => undefined as never));
    return out.filter((v) => v !== undefined);
  }

  /** Frees every resource (models, batchers, worker threads). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) {
      try {
        const v = await e.value;
        await e.dispose?.(v);
      } catch { /* a resource that failed to load has nothing to free */ }
    }
  }
}
