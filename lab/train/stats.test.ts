import { describe, expect, it } from 'vitest';
import { erfc, meanInterval95, pairedComparison, wilson95 } from './stats.ts';

describe('evaluation statistics', () => {
  it('erfc matches tabulated values', () => {
    expect(erfc(0)).toBeCloseTo(1, 6);
    expect(erfc(1)).toBeCloseTo(0.157299, 6);
    expect(erfc(-1)).toBeCloseTo(1.842701, 6);
    expect(erfc(2.5)).toBeCloseTo(0.000407, 6);
  });

  it('Wilson interval of a proportion (textbook: 81 of 100 -> 0.722-0.875)', () => {
    expect(wilson95(81, 100)).toEqual([0.7222, 0.8749]);
    const [lo, hi] = wilson95(1417, 1634); // the shipped model's UTKFace gender count
    expect(lo).toBeGreaterThan(0.84);
    expect(hi).toBeLessThan(0.89);
    expect(wilson95(0, 10)[0]).toBe(0);
    expect(wilson95(10, 10)[1]).toBe(1);
  });

  it('interval of a mean from its samples', () => {
    expect(meanInterval95([0, 1, 0, 1])).toEqual([-0.0658, 1.0658]);
    expect(meanInterval95([0.5, 0.5, 0.5])).toEqual([0.5, 0.5]);
  });

  it('paired comparison counts the discordant faces and tests them (McNemar)', () => {
    // 10 faces only the first gets right, 30 only the second, 60 both right
    const first = [...Array(10).fill(true), ...Array(30).fill(false), ...Array(60).fill(true)];
    const second = [...Array(10).fill(false), ...Array(30).fill(true), ...Array(60).fill(true)];
    const p = pairedComparison(first, second);
    expect(p).toMatchObject({ n: 100, onlyFirst: 10, onlySecond: 30, difference: -0.2 });
    expect(p.pValue).toBeCloseTo(0.00266, 4); // chi2 = (|10-30|-1)^2/40 = 9.025
    expect(p.differenceCI95[1]).toBeLessThan(0);
    expect(pairedComparison([true, false], [true, false])).toMatchObject({ difference: 0, pValue: 1 });
    expect(() => pairedComparison([true], [true, false])).toThrow(/1 answers against 2/);
  });
});
