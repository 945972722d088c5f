import { describe, expect, it } from 'vitest';
import { degradeCrop, withDegradedCopies } from './degrade.ts';
import { lowResFactors } from './sa.ts';
import type { LabelledSet } from './attributes.ts';

describe('low-resolution copies of crops', () => {
  it('box-filters down and interpolates back up', () => {
    const size = 8;
    const flat = new Uint8Array(size * size * 3).fill(77);
    expect([...degradeCrop(flat, size, 4)].every((v) => v === 77)).toBe(true);
    // a 1-px checkerboard has no detail left at half the resolution: uniform grey
    const check = Uint8Array.from({ length: size * size * 3 }, (_, i) => { const p = Math.floor(i / 3); return ((p % size) + Math.floor(p / size)) % 2 ? 200 : 0; });
    expect(new Set(degradeCrop(check, size, 2))).toEqual(new Set([100]));
    expect(degradeCrop(check, size, 1)).toEqual(check);
    // a left/right split keeps its halves' means, blurred across the middle
    const split = Uint8Array.from({ length: size * size * 3 }, (_, i) => (Math.floor(i / 3) % size < 4 ? 0 : 240));
    const d = degradeCrop(split, size, 4);
    expect(d[0]).toBe(0);
    expect(d[(size - 1) * 3]).toBe(240);
    expect(d[3 * 3]).toBeGreaterThan(0);
    expect(d[3 * 3]).toBeLessThan(240);
    expect(() => degradeCrop(flat, size, 3)).toThrow(/whole divisor of the crop size 8/);
  });

  it('copies carry the labels of their face', () => {
    const size = 4, px = size * size * 3;
    const s: LabelledSet = {
      crops: Uint8Array.from({ length: 3 * px }, (_, i) => Math.floor(i / px) * 50), size, zoom: 1, n: 3,
      source: Uint8Array.from([0, 1, 2]), celeba: Uint8Array.from({ length: 120 }, (_, i) => (i < 40 ? i % 2 : 0)),
      gender: Int8Array.from([1, 0, -1]), age: Float32Array.from([NaN, 33, NaN]), smile: Int8Array.from([1, -1, 0]),
      valid: Uint8Array.from([1, 1, 1]), calib: Uint8Array.from([0, 1, 0]), method: Uint8Array.from([0, 1, 0]),
      files: ['a.jpg', 'b.jpg', 'c.jpg'], methods: {},
    };
    const { set, idx } = withDegradedCopies(s, [0, 1], [2, 4]);
    expect(set.n).toBe(6);
    expect(idx).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...set.gender]).toEqual([1, 0, 1, 0, 1, 0]);
    expect([...set.age].map((a) => (Number.isNaN(a) ? null : a))).toEqual([null, 33, null, 33, null, 33]);
    expect([...set.source]).toEqual([0, 1, 0, 1, 0, 1]);
    expect(set.files).toEqual(['a.jpg', 'b.jpg', 'a.jpg', 'b.jpg', 'a.jpg', 'b.jpg']);
    expect([...set.celeba.subarray(4 * 40, 4 * 40 + 4)]).toEqual([0, 1, 0, 1]);
    expect(set.crops[3 * px]).toBe(50); // face 1's flat crop stays flat at any resolution
    expect(s.n).toBe(3); // the source set is untouched
  });

  it('the low-resolution copies are the same face widths at any crop size', () => {
    expect(lowResFactors(64, [16, 8])).toEqual([4, 8]);
    expect(lowResFactors(80, [16, 8])).toEqual([5, 10]);
    expect(() => lowResFactors(96, [16, 10])).toThrow(/96-px crop has no whole divisor giving 10 px/);
  });
});
