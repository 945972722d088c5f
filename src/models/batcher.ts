/**
 * Cross-stream batching: `batcher(predict, { maxBatch, maxWaitMs })` collects the crops
 * that stages of any stream of the process ask for, and runs the model once per batch:
 * when `maxBatch` crops are waiting, or `maxWaitMs` after the first one arrived. Each
 * caller gets its own answers back, in order. A model error fails the callers of that
 * batch only. An asynchronous `predict` (the native engine) runs one batch at a time: crops
 * that arrive meanwhile wait and go together in the next.
 *
 * @example
 *   const b = batcher((crops) => model.predict(crops), { maxBatch: 32, maxWaitMs: 15 });
 *   const user = b.join();            // each stage that uses it, once
 *   const answers = await b.run(crops);
 *   user.leave();                     // when the stage is disposed (idempotent)
 */
export interface Batcher<I, O> {
  run(inputs: I[]): Promise<O[]>;
  /**
   * A stage starts using the batcher: with one user there is nobody to wait for and
   * batches run at once. `leave()` (idempotent) when the stage is disposed.
   */
  join(): { leave(): void };
  /** The stages using it now. */
  readonly users: number;
  /** Batches run and inputs seen, for metrics. */
  readonly stats: { batches: number; inputs: number; largest: number };
}

export function batcher<I, O>(predict: (inputs: I[]) => O[] | Promise<O[]>, opts: { maxBatch: number; maxWaitMs: number }): Batcher<I, O> {
  interface Waiting { inputs: I[]; resolve: (o: O[]) => void; reject: (e: unknown) => void }
  const queue: Waiting[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  /** An asynchronous predict is under way: what arrives meanwhile waits and joins the next batch. */
  let running = false;
  const stats = { batches: 0, inputs: 0, largest: 0 };

  const settle = (take: Waiting[], n: number, out: O[]) => {
    stats.batches++;
    stats.inputs += n;
    stats.largest = Math.max(stats.largest, n);
    let at = 0;
    for (const w of take) { w.resolve(out.slice(at, at + w.inputs.length)); at += w.inputs.length; }
  };

  const flush = () => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    while (queue.length && !running) {
      // whole requests up to maxBatch inputs (a larger request runs alone)
      const take: Waiting[] = [];
      let n = 0;
      while (queue.length && (take.length === 0 || n + queue[0]!.inputs.length <= opts.maxBatch)) {
        const w = queue.shift()!;
        take.push(w);
        n += w.inputs.length;
      }
      queued -= n;
      try {
        const out = predict(take.flatMap((w) => w.inputs));
        if (out instanceof Promise) {
          running = true;
          const fail = (err: unknown) => { for (const w of take) w.reject(err); };
          // a result that cannot be handed out (wrong length, ...) fails its batch like a model error: never an unhandled rejection
          out.then((o) => { try { settle(take, n, o); } catch (err) { fail(err); } }, fail)
            .finally(() => { running = false; if (queue.length) flush(); });
          return;
        }
        settle(take, n, out);
      } catch (err) {
        for (const w of take) w.reject(err);
      }
      if (queued < opts.maxBatch) break; // the rest waits for more company
    }
    if (queue.length && !timer && !running) timer = setTimeout(flush, opts.maxWaitMs);
  };

  let users = 0;
  const self: Batcher<I, O> = {
    stats,
    get users() { return users; },
    join() {
      users++;
      let left = false;
      return { leave: () => { if (!left) { left = true; users--; } } };
    },
    run(inputs) {
      if (!inputs.length) return Promise.resolve([]);
      return new Promise<O[]>((resolve, reject) => {
        queue.push({ inputs, resolve, reject });
        queued += inputs.length;
        if (queued >= opts.maxBatch || opts.maxWaitMs <= 0 || users <= 1) flush();
        else timer ??= setTimeout(flush, opts.maxWaitMs);
      });
    },
  };
  return self;
}
