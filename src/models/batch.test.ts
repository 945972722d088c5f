import { describe, expect, it } from 'vitest';
import { cropsToArray, outputRows } from './batch.ts';

describe('batch rows', () => {
  it('cropsToArray with mirrored puts each crop\'s mirror image after all the crops', () => {
    // two 2x1 crops: pixels (1,2) and (3,4), each pixel's three channels equal
    const px = (a: number, b: number) => Uint8Array.from([a, a, a, b, b, b]);
    const x = cropsToArray([{ width: 2, height: 1, data: px(51, 102) }, { width: 2, height: 1, data: px(153, 204) }], true);
    const firstChannel = Array.from({ length: 8 }, (_, i) => Math.round(x[i * 3]! * 255));
    expect(firstChannel).toEqual([51, 102, 153, 204, 102, 51, 204, 153]);
  });

  it('outputRows splits a batch output into a row per crop, and averages each with its mirror row', () => {
    const plain = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(outputRows(plain, 3, false).map((r) => Array.from(r))).toEqual([[1, 2], [3, 4], [5, 6]]);
    // 2 crops then their 2 mirror images, 2 values each
    const mirrored = Float32Array.from([1, 2, 3, 4, 3, 4, 5, 8]);
    expect(outputRows(mirrored, 2, true).map((r) => Array.from(r))).toEqual([[2, 3], [4, 6]]);
  });
});
