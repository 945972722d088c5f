import { describe, expect, it } from 'vitest';
import { batcher } from './batcher.ts';

describe('cross-stream batcher', () => {
  it('joins the requests of several users into one batch and gives each its own answers', async () => {
    const calls: number[][] = [];
    const b = batcher((xs: number[]) => { calls.push(xs); return xs.map((x) => x * 10); }, { maxBatch: 8, maxWaitMs: 20 });
    const users = Array.from({ length: 3 }, () => b.join());
    const [a, c, d] = await Promise.all([b.run([1, 2]), b.run([3]), b.run([4, 5, 6])]);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect(a).toEqual([10, 20]);
    expect(c).toEqual([30]);
    expect(d).toEqual([40, 50, 60]);
    expect(b.stats).toEqual({ batches: 1, inputs: 6, largest: 6 });
  });

  it('runs at once when maxBatch inputs wait, never more than maxBatch in one batch (whole requests)', async () => {
    const calls: number[][] = [];
    const b = batcher((xs: number[]) => { calls.push(xs); return xs; }, { maxBatch: 4, maxWaitMs: 10_000 });
    const users = Array.from({ length: 2 }, () => b.join());
    const first = b.run([1, 2, 3]);
    const second = b.run([4, 5, 6, 7]); // 7 waiting: [1, 2, 3] runs now, then [4..7] is a full batch too
    expect(await first).toEqual([1, 2, 3]);
    expect(await second).toEqual([4, 5, 6, 7]);
    expect(calls).toEqual([[1, 2, 3], [4, 5, 6, 7]]);
  });

  it('a single user never waits', async () => {
    const b = batcher((xs: number[]) => xs, { maxBatch: 32, maxWaitMs: 10_000 });
    const users = Array.from({ length: 1 }, () => b.join());
    const t0 = Date.now();
    expect(await b.run([7])).toEqual([7]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a failing batch rejects its own callers only', async () => {
    let n = 0;
    const b = batcher((xs: number[]) => { if (n++ === 0) throw new Error('bad batch'); return xs; }, { maxBatch: 2, maxWaitMs: 5 });
    const users = Array.from({ length: 2 }, () => b.join());
    const first = Promise.allSettled([b.run([1]), b.run([2])]);
    const [r1, r2] = await first;
    expect(r1.status).toBe('rejected');
    expect(r2.status).toBe('rejected');
    expect(await b.run([3])).toEqual([3]);
  });

  it('users join and leave (twice leaving counts once): the last one left runs batches at once', async () => {
    const calls: number[][] = [];
    const b = batcher((xs: number[]) => { calls.push(xs); return xs; }, { maxBatch: 32, maxWaitMs: 10_000 });
    const a = b.join();
    const c = b.join();
    expect(b.users).toBe(2);
    c.leave();
    c.leave();
    expect(b.users).toBe(1);
    expect(await b.run([1])).toEqual([1]); // alone: no waiting for company
    a.leave();
    expect(b.users).toBe(0);
  });

  it('an asynchronous predict runs one batch at a time: what arrives meanwhile goes in the next; a failure fails its own batch only', async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let fail = false;
    const b = batcher(async (xs: number[]) => {
      calls.push(xs);
      if (calls.length === 1) await gate;
      if (fail) throw new Error('engine failed');
      return xs.map((x) => x + 100);
    }, { maxBatch: 4, maxWaitMs: 0 });
    const first = b.run([1, 2]);
    const second = b.run([3]);
    const third = b.run([4, 5]);
    expect(calls).toEqual([[1, 2]]); // the others wait for the first run
    release();
    expect(await first).toEqual([101, 102]);
    expect(await second).toEqual([103]);
    expect(await third).toEqual([104, 105]);
    expect(calls).toEqual([[1, 2], [3, 4, 5]]);
    fail = true;
    await expect(b.run([6])).rejects.toThrow(/engine failed/);
    fail = false;
    expect(await b.run([7])).toEqual([107]);
    expect(b.stats.batches).toBe(3);
    // a result that cannot be handed out fails its callers, not the process
    const broken = batcher(async () => undefined as unknown as number[], { maxBatch: 4, maxWaitMs: 0 });
    await expect(broken.run([1])).rejects.toThrow();
  });
});
