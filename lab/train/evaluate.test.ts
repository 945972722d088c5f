import { describe, expect, it } from 'vitest';
import { withFaceApi } from './evaluate.ts';
import type { AgeGenderRow } from './attributes.ts';

const row = (age: number, said: number, genderOk: boolean, female = 0.9): AgeGenderRow => ({ age, said, genderOk, ageError: Math.abs(said - age), female });

describe('eval attributes: the answers with face-api beside the network', () => {
  it('blends each face\'s two ages by the share, splits the halves, and counts gender where the two models agree', () => {
    const ours = [row(30, 40, true), row(50, 40, true), row(2, 6, false), row(70, 60, true)];
    const faceApi = [row(30, 30, true), row(50, 60, false), row(2, 2, false), row(70, 70, true)];
    const faces = (calibration: boolean[]) => ({ calibration, female: [1, 1, 0, 1] });
    const r = withFaceApi(ours, faceApi, faces([true, true, false, false]), 0.5, 0);
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
    expect(withFaceApi(ours, faceApi, faces([true, true, true, true]), 0, 0).ageMAE).toBeCloseTo((10 + 10 + 4 + 10) / 4, 9);
    expect(withFaceApi(ours, faceApi, faces([true, true, true, true]), 1, 0).ageMAE).toBeCloseTo((0 + 10 + 0 + 0) / 4, 9);
  });

  it('blends the gender as the pipeline does (log-odds by the share), face by face against face-api, and on CelebA faces when given', () => {
    // truth: female, female, male, male; the network says 0.9, 0.6, 0.45, 0.2 female; face-api 0.3, 0.95, 0.9, 0.1
    const ours = [row(30, 30, true, 0.9), row(30, 30, true, 0.6), row(30, 30, true, 0.45), row(30, 30, true, 0.2)];
    const faceApi = [row(30, 30, false, 0.3), row(30, 30, true, 0.95), row(30, 30, false, 0.9), row(30, 30, true, 0.1)];
    const faces = { calibration: [true, true, false, false], female: [1, 1, 0, 0] };
    const lo = (p: number) => Math.log(p / (1 - p));
    // at 0.5: face 1: (lo .9 + lo .3)/2 = (2.197 - 0.847)/2 > 0 female (right); face 3: (lo .45 + lo .9)/2 > 0 female (wrong)
    expect(lo(0.9) + lo(0.3)).toBeGreaterThan(0);
    expect(lo(0.45) + lo(0.9)).toBeGreaterThan(0);
    const r = withFaceApi(ours, faceApi, faces, 0, 0.5, { truth: [1, 0], ours: [0.9, 0.4], faceApi: [0.2, 0.3] });
    expect(r.gender.accuracy).toBe(0.75);
    expect(r.gender.againstFaceApi).toMatchObject({ n: 4, onlyFirst: 1, onlySecond: 0 });
    expect(r.gender.byShare[0]).toEqual({ share: 0, calibration: 1, other: 1 }); // the network alone: right on all four
    expect(r.gender.byShare[10]).toEqual({ share: 1, calibration: 0.5, other: 0.5 }); // face-api alone
    // CelebA: face 1 (lo .9 + lo .2)/2 = (2.197 - 1.386)/2 > 0 female, right; face 2 male, right
    expect(r.gender.celeba).toMatchObject({ n: 2, accuracy: 1, network: 1, faceApi: 0.5 });
    expect(r.gender.celeba!.byShare[0]).toEqual({ share: 0, accuracy: 1 });
    expect(r.gender.celeba!.byShare[10]).toEqual({ share: 1, accuracy: 0.5 });
    expect(r.gender.sets).toEqual({});
    // another set of faces: by share, from the network alone to face-api alone
    const more = withFaceApi(ours, faceApi, faces, 0, 0.5, undefined, { celebaGender: { truth: [1, 0], ours: [0.9, 0.4], faceApi: [0.2, 0.3] } });
    expect(more.gender.celeba).toBeUndefined();
    expect(more.gender.sets.celebaGender).toMatchObject({ n: 2, accuracy: 1, network: 1, faceApi: 0.5 });
    expect(more.gender.sets.celebaGender!.byShare[10]).toEqual({ share: 1, accuracy: 0.5 });
  });
});
