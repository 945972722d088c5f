import { describe, expect, it } from 'vitest';
import { VisitorRegistry, distance } from './visitors.ts';

const vec = (...xs: number[]) => Float32Array.from(xs);

describe('unique visitors', () => {
  it('a face close to one seen within the window is that visitor; others are new; the window forgets', () => {
    const r = new VisitorRegistry({ windowMs: 30 * 60_000, maxDistance: 0.3 });
    const a = r.identify(vec(0, 0, 0), 0);
    expect(a).toMatchObject({ returning: false });
    expect(a.id).toMatch(/^v-[0-9a-f]{8}$/);
    const b = r.identify(vec(1, 0, 0), 1000); // 1.0 away: someone else
    expect(b.returning).toBe(false);
    expect(b.id).not.toBe(a.id);
    expect(r.identify(vec(0.1, 0.1, 0), 60_000)).toEqual({ id: a.id, returning: true }); // 0.14 away: a again
    // the closest visitor wins when two are under the bound
    const r2 = new VisitorRegistry({ windowMs: 60_000, maxDistance: 0.6 });
    const near = r2.identify(vec(0, 0), 0);
    r2.identify(vec(0.5, 0), 0);
    expect(r2.identify(vec(0.1, 0), 0).id).toBe(near.id);
    // 31 minutes after a's last visit: forgotten, a new visitor
    expect(r.identify(vec(0, 0, 0), 60_000 + 31 * 60_000).returning).toBe(false);
    expect(r.stats).toEqual({ visitors: 3, returning: 1 });
    r.prune(Number.MAX_SAFE_INTEGER);
    expect(r.size).toBe(0);
  });

  it('the Euclidean distance', () => {
    expect(distance(vec(0, 0), vec(3, 4))).toBe(5);
  });
});
