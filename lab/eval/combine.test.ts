import { describe, expect, it } from 'vitest';
import { averageRows, subsets } from './combine.ts';

describe('eval combine', () => {
  it('lists every non-empty subset of the members once, singles first', () => {
    expect(subsets(2)).toEqual([[0], [1], [0, 1]]);
    const three = subsets(3);
    expect(three).toHaveLength(7);
    expect(three.slice(0, 3)).toEqual([[0], [1], [2]]);
    expect(three.at(-1)).toEqual([0, 1, 2]);
  });

  it('averages a head over the chosen members, as the ensemble\'s Average layer does', () => {
    const rows = [
      [Float32Array.from([1, 0]), Float32Array.from([0.2, 0.8])],
      [Float32Array.from([0, 1]), Float32Array.from([0.6, 0.4])],
      [Float32Array.from([0.5, 0.5]), Float32Array.from([1, 0])],
    ];
    const two = averageRows(rows, [0, 1]);
    expect([...two[0]!]).toEqual([0.5, 0.5]);
    expect(two[1]![0]).toBeCloseTo(0.4, 6);
    const one = averageRows(rows, [2]);
    expect([...one[1]!]).toEqual([1, 0]);
    expect(rows[2]![1]![0]).toBe(1); // the members' rows are not changed
  });
});
