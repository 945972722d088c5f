import { describe, expect, it } from 'vitest';
import { calibrate, meetsTargets, statsUnder, wilsonLower } from './calibrate.ts';
import type { TrackRow } from './video.ts';

type Row = TrackRow & { size: number; pipeline: string };

/** A track: right or wrong on gender and age group, with its SA grade, frames, majority and width. */
function row(size: number, right: boolean, o: { grade?: 'S' | 'A' | 'B' | 'C'; frames?: number; probability?: number } = {}): Row {
  const said = (value: string) => ({ value, probability: o.probability ?? 0.95, confidence: 0.9, grade: o.grade ?? 'S', frames: o.frames ?? 6 });
  return {
    size, pipeline: 'default', face: 0, gender: 'female', age: 25, ageGroup: 'youth', widthPx: size,
    said: { gender: said(right ? 'female' : 'male'), ageGroup: said(right ? 'youth' : 'old'), age: 25 },
  };
}

describe('grade calibration', () => {
  it('keeps S where it holds, takes it from short tracks and small faces where it does not, withholds the sizes where answers are poor', () => {
    const rows: Row[] = [
      // 96 px: S right every time
      ...Array.from({ length: 20 }, () => row(96, true)),
      // 48 px: the S answers of short tracks (2 frames) are wrong one time in five; long ones right
      ...Array.from({ length: 10 }, (_, i) => row(48, i % 5 !== 0, { frames: 2 })),
      ...Array.from({ length: 10 }, () => row(48, true, { frames: 8 })),
      // 24 px: mostly wrong whatever the grade
      ...Array.from({ length: 10 }, (_, i) => row(24, i < 3, { grade: i % 2 ? 'A' : 'S' })),
    ];
    const base = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0 };
    expect(meetsTargets(statsUnder(rows, base))).toBe(false);
    const r = calibrate(rows);
    expect(r.policy.withholdBelowPx).toBe(25); // 24-px faces: C at best
    expect(r.policy.sMinFrames).toBeGreaterThan(2); // the short tracks lose S
    expect(meetsTargets(r.stats)).toBe(true);
    const at = (size: number) => r.stats.find((s) => s.size === size && s.task === 'gender')!;
    expect(at(96).byGrade.S.n).toBe(20);
    expect(at(48).byGrade.S).toEqual({ n: 10, right: 10 });
    expect(at(24).byGrade.S.n + at(24).byGrade.A.n + at(24).byGrade.B.n).toBe(0);
  });

  it('the Wilson lower bound: 15 of 15 right is only >= 0.80 with 95% confidence', () => {
    expect(wilsonLower(15, 15)).toBeCloseTo(0.796, 2);
    expect(wilsonLower(0, 0)).toBe(0);
    expect(wilsonLower(97, 100)).toBeGreaterThan(0.91);
  });
});

describe('grade calibration with the fixed rules', () => {
  it('fits S on the answers the pipeline counts: a child\'s gender and the B answers are withheld before the fit', () => {
    const child = (right: boolean): Row => {
      const r = row(96, true);
      return { ...r, age: 8, ageGroup: 'child', said: { ...r.said!, gender: { ...r.said!.gender!, value: right ? 'female' : 'male' }, ageGroup: { ...r.said!.ageGroup!, value: 'child' }, age: 8 } };
    };
    // adults right at S; children's gender at S wrong one time in three
    const rows: Row[] = [...Array.from({ length: 30 }, () => row(96, true)), ...Array.from({ length: 9 }, (_, i) => child(i % 3 !== 0))];
    const fixed = { genderMinAge: 13, withholdB: true };
    // without the age rule, no S rule on frames/probability/width can tell the children apart
    expect(() => calibrate(rows)).toThrow(/no rule meets the gender target/);
    // with it, the children's gender is C and the adults keep S
    const r = calibrate(rows, fixed);
    const g = r.stats.find((s) => s.task === 'gender')!;
    expect(g.byGrade.S).toEqual({ n: 30, right: 30 });
    expect(g.byGrade.C.n).toBe(9);
    expect(r.policy).toMatchObject(fixed);
    expect(r.policy.ageGroup?.genderMinAge).toBeUndefined();
    // B answers are withheld under withholdB
    const b = statsUnder([row(96, true, { grade: 'B' })], { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, withholdB: true });
    expect(b[0]!.byGrade.C.n).toBe(1);
  });
});
