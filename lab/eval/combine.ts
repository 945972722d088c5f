/**
 * `facestream eval combine --members A,B[,C]`: which member should answer which head of an
 * ensemble (`train ensemble --heads`). Each finished attribute model (a member may itself be
 * an ensemble, e.g. the shipped one) predicts the validation split once, with the mirror
 * pass; then, for every non-empty subset of members, the heads averaged over that subset
 * (what the ensemble's Average layer computes) are scored as `evaluate` scores a model.
 * One row per subset: the figures each head is judged by, so that the heads can be
 * assigned independently. Minutes instead of one full `train ensemble` per combination.
 */
import { initRuntime } from '../runtime.ts';
import { loadModel } from '../../src/models/io.ts';
import { inputSide } from '../../src/models/attributes/network.ts';
import { readInferenceSettings } from '../../src/models/attributes/model.ts';
import { FacestreamError } from '../../src/errors.ts';
import { evaluate, loadLabelled, predictAllFast, type DataDirs } from '../train/attributes.ts';

export interface CombineRow {
  members: number[];
  celeba?: number;
  utkGender?: number;
  utk64Gender?: number;
  celebaGender?: number;
  utkAgeMAE?: number;
  adultsAgeMAE?: number;
  utk64AgeMAE?: number;
  age5?: number;
  smile?: number;
}

/** Every non-empty subset of 0..n-1, smallest first. */
export function subsets(n: number): number[][] {
  const out: number[][] = [];
  for (let mask = 1; mask < 1 << n; mask++) out.push([...Array(n).keys()].filter((i) => mask & (1 << i)));
  return out.sort((a, b) => a.length - b.length || a[0]! - b[0]!);
}

/** The element-wise mean of the members' rows for one head (the Average layer). */
export function averageRows(rows: Float32Array[][], which: number[]): Float32Array[] {
  return rows[which[0]!]!.map((_, j) => {
    const out = new Float32Array(rows[which[0]!]![j]!.length);
    for (const m of which) { const r = rows[m]![j]!; for (let i = 0; i < out.length; i++) out[i]! += r[i]! / which.length; }
    return out;
  });
}

export async function combineMembers(o: { members: string[]; data: DataDirs }): Promise<{ n: number; rows: CombineRow[] }> {
  await initRuntime();
  const zooms = [...new Set(o.members.map((m) => readInferenceSettings(m).zoom))];
  if (zooms.length > 1) throw new FacestreamError('FS_ERR_MODEL', `members framed at different zooms (${zooms.join(' vs ')})`);
  const models = await Promise.all(o.members.map((m) => loadModel(m)));
  const sides = [...new Set(models.map((m, i) => inputSide(m, o.members[i])))];
  if (sides.length > 1) throw new FacestreamError('FS_ERR_MODEL', `members take different input sides (${sides.join(', ')})`);
  const names = models[0]!.outputNames;
  for (const [i, m] of models.entries()) {
    if (names.some((h) => !m.outputNames.includes(h))) throw new FacestreamError('FS_ERR_MODEL', `member ${o.members[i]}: not an attribute model`);
  }
  const s = await loadLabelled(o.data, { zoom: zooms[0], size: sides[0] });
  const idx = [...Array(s.n).keys()].filter((k) => s.valid[k]);
  // per member, per head (in the first member's output order), per face
  const outs: Float32Array[][][] = [];
  for (const m of models) {
    const o2 = await predictAllFast(m, s, idx, 128, true);
    outs.push(names.map((h) => o2[m.outputNames.indexOf(h)]!));
  }
  models.forEach((m) => m.dispose());
  const rows: CombineRow[] = [];
  for (const which of subsets(o.members.length)) {
    const heads = names.map((_, h) => averageRows(outs.map((mo) => mo[h]!), which));
    const m = evaluate({ outputNames: names } as never, s, idx, true, {}, heads);
    rows.push({
      members: which, celeba: m.celeba?.meanAccuracy, utkGender: m.utkface?.genderAccuracy, utk64Gender: m.utkface64?.genderAccuracy,
      celebaGender: m.celebaGender?.accuracy, utkAgeMAE: m.utkface?.ageMAE,
      adultsAgeMAE: m.utkface?.adults?.ageMAE ?? undefined,
      utk64AgeMAE: m.utkface64?.ageMAE, age5: m.utkface?.age5Accuracy, smile: m.smile?.accuracy,
    });
  }
  return { n: idx.length, rows };
}
