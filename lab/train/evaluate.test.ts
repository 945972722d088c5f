import { describe, expect, it } from 'vitest';
import { withFaceApi } from './evaluate.ts';
import type { AgeGenderRow } from './attributes.ts';

const row = (age: number, said: number, genderOk: boolean): AgeGenderRow => ({ age, said, genderOk, ageError: Math.abs(said - age) });

describe('eval attributes: the answers with face-api beside the network', () => {
  it('blends each face\'s two ages by the share, splits the halves, and counts gender where the two models agree', () => {
    const ours = [row(30, 40, true), row(50, 40, true), row(2, 6, false), row(70, 60, true)];
    const faceApi = [row(30, 30, true), row(50, 60, false), row(2, 2, false), row(70, 70, true)];
    const r = withFaceApi(ours, faceApi, [true, true, false, false], 0.5);
    // blended ages 35, 50, 4, 65: errors 5, 0, 2, 5
    expect(r.ageMAE).toBeCloseTo(3, 9);
    expect(r.adults).toEqual({ n: 2, ageMAE: 2.5 });
    expect(r.halves.calibration).toEqual({ n: 2, ageMAE: 2.5 });
    expect(r.halves.other).toEqual({ n: 2, ageMAE: 3.5 });
    // face 1: face-api wrong where the network is right: withheld; face 2: both wrong: kept, wrong
    expect(r.genderWhereAgree).toMatchObject({ n: 3, share: 0.75 });
    expect(r.genderWhereAgree.accuracy).toBeCloseTo(2 / 3, 9);
    expect(r.byShare.map((b) => b.share)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(r.byShare[5]).toEqual({ share: 0.5, calibration: 2.5, other: 3.5 });
    expect(r.byShare[0]!.calibration).toBeCloseTo(10, 9); // the network alone: errors 10 and 10
    // share 0: the network's own ages; share 1: face-api's
    expect(withFaceApi(ours, faceApi, [true, true, true, true], 0).ageMAE).toBeCloseTo((10 + 10 + 4 + 10) / 4, 9);
    expect(withFaceApi(ours, faceApi, [true, true, true, true], 1).ageMAE).toBeCloseTo((0 + 10 + 0 + 0) / 4, 9);
  });
});
