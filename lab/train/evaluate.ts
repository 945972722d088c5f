/**
 * `facestream eval attributes`: the attribute model on labelled folders laid out like
 * ../shared/data (celeba/, utkface/, smile/), through the same detector + alignment as
 * the live pipeline, with plain-vs-SA comparisons and face-api's age/gender net as a
 * peer on the same UTKFace faces.
 */
import { phases, progress } from '../../src/progress.ts';
import { createRequire } from 'node:module';
import { inputSide, SA_TASKS, type SaTask } from '../../src/models/attributes/network.ts';
import { faceApiModelDir } from '../../src/models/faces/detector.ts';
import { loadModel } from '../../src/models/io.ts';
import { readInferenceSettings } from '../../src/models/attributes/model.ts';
import { blendProbability, FACE_API_AGE_SHARE, FACE_API_GENDER_SHARE } from '../../src/calculators/smooth.ts';
import { initRuntime, tf } from '../runtime.ts';
import { decodeImage, METHODS } from './crops.ts';
import { AGE_BINS, ageClass } from './datasets.ts';
import { ageGenderFigures, evaluate, femaleOf, loadLabelled, predictAll, predictAllFast, SOURCES, type AgeClassBreakdown, type AgeGenderRow, type DataDirs, type EvalMetrics, type LabelledSet } from './attributes.ts';
import { evaluateSa, lowResFactors, trueLabel, type SaEval } from './sa.ts';
import { withDegradedCopies } from './degrade.ts';
import { pairedComparison, wilson95, type PairedComparison } from './stats.ts';

const require = createRequire(import.meta.url);
/** Face widths of the low-resolution SA figures (a 64-px crop divided by 4 and 8). */
const LOW_RES_PX = [16, 8];

export interface EvalReport extends EvalMetrics {
  split: 'all' | 'validation';
  saSoftmax: Record<SaTask, SaEval>;
  /** Which faces the SA figures count: all given, or the validation split less its calibration half. */
  saFaces: 'all' | 'validation without calibration';
  /**
   * The SA figures on the same faces and, with them, a copy of each at 1/4 and 1/8 of the
   * crop's resolution (16 and 8 px, as the pipeline's smallest faces): faces hard enough
   * to fill the lower grades, where the fall of accuracy from S to D shows.
   */
  saSoftmaxLowRes?: {
    factors: number[];
    saSoftmax: Record<SaTask, SaEval>;
    /** The copies of one resolution alone ("16px", "8px"): how the grades behave at each face size. */
    byResolution: Record<string, Record<SaTask, SaEval>>;
  };
  /** UTKFace gender on the same faces as saSoftmax, per true age class: the plain head, and grade S's share and accuracy. */
  saGenderByAgeClass?: Record<string, { n: number; plainAccuracy: number | null; S: { share: number | null; accuracy: number | null } }>;
  peer?: {
    faceapi: {
      n: number; ageMAE: number; genderAccuracy: number; genderAccuracyCI95: [number, number]; msPerFace: number; byAgeClass: AgeClassBreakdown;
      /** Gender, face by face: facestream (first) against face-api (second) on the same faces. */
      genderPaired?: PairedComparison;
      /**
       * Gender on the CelebA validation faces, through face-api's own detector: faces
       * face-api was not trained on, unlike UTKFace (../shared/NOTES.md).
       */
      celeba?: { n: number; /** faces its detector found (the rest fed whole) */ detected: number; genderAccuracy: number; genderAccuracyCI95: [number, number]; genderPaired: PairedComparison };
    };
  };
  /**
   * What the pipeline answers with face-api beside the network, on the same UTKFace faces:
   * the age blended with face-api's by `share` (attributes.faceApiAgeShare), overall, for
   * adults, by true age class and on each half of the split (the share was chosen with the
   * calibration half in view, not the other); and the network's gender on the faces where
   * face-api's gender agrees (the `face-api` check withholds the others). face-api was
   * trained on UTKFace, so its part is flattered here (../shared/NOTES.md).
   */
  withFaceApi?: {
    share: number; n: number; ageMAE: number; adults: { n: number; ageMAE: number | null }; byAgeClass: AgeClassBreakdown;
    halves: { calibration: { n: number; ageMAE: number }; other: { n: number; ageMAE: number } };
    /** The age error on each half at face-api's shares 0, 0.1, ..., 1 (0: the network alone; 1: face-api alone). */
    byShare: Array<{ share: number; calibration: number; other: number }>;
    genderWhereAgree: { n: number; share: number; accuracy: number; accuracyCI95: [number, number] };
    /**
     * The gender blended as the pipeline blends it (attributes.faceApiGenderShare: the
     * log-odds of the two probabilities), on the same UTKFace faces: accuracy, face by face
     * against face-api alone, on each half at each share; and on the CelebA validation faces
     * (face-api through its own detector), which face-api was not trained on.
     */
    gender: {
      share: number; n: number; accuracy: number; accuracyCI95: [number, number]; againstFaceApi: PairedComparison;
      byShare: Array<{ share: number; calibration: number; other: number }>;
      celeba?: BlendedGender;
      /** With --utkface64 and --celeba-gender: those faces, each fed whole to face-api (the CelebA gender crops: faces neither model trained on). */
      sets: Record<string, BlendedGender>;
    };
  };
  noFaceRate: number;
  cropMethods: Record<string, number>;
  msPerFace: { batch32: number };
  /** Whether each face's answers were averaged with its mirror image's (as the pipeline does). */
  flip: boolean;
}

export function saReport(model: tf.LayersModel, s: LabelledSet, idx: number[], flip = false): Record<SaTask, SaEval> {
  return saFigures(model, s, idx, predictAll(model, s, idx, 128, flip)).sa;
}

/** Plain vs SA per task on the faces at positions `at` of `idx` (all by default), from outputs already computed. */
function saOn(model: tf.LayersModel, out: Float32Array[][], s: LabelledSet, idx: number[], at: number[] = [...idx.keys()]): Record<SaTask, SaEval> {
  const head = (n: string) => out[model.outputNames.indexOf(n)]!;
  const sa = {} as Record<SaTask, SaEval>;
  for (const task of Object.keys(SA_TASKS) as SaTask[]) {
    sa[task] = evaluateSa(at.map((j) => head(task)[j]!), at.map((j) => head(`${task}_sa`)[j]!), at.map((j) => trueLabel(task, s, idx[j]!)));
  }
  return sa;
}

/** SA figures and gender by age class on the faces `idx`, from their outputs (`predictAll` order). */
function saFigures(model: tf.LayersModel, s: LabelledSet, idx: number[], out: Float32Array[][]) {
  const head = (n: string) => out[model.outputNames.indexOf(n)]!;
  const sa = saOn(model, out, s, idx);
  const byAge: NonNullable<EvalReport['saGenderByAgeClass']> = {};
  AGE_BINS.forEach((bin, c) => {
    const rows = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 1 && ageClass(s.age[k]!) === c);
    if (!rows.length) return;
    const e = evaluateSa(rows.map(([, j]) => head('gender')[j]!), rows.map(([, j]) => head('gender_sa')[j]!), rows.map(([k]) => s.gender[k]!));
    byAge[bin.name] = { n: e.n, plainAccuracy: e.n ? e.plainAccuracy : null, S: { share: e.n ? e.grades.S.n / e.n : null, accuracy: e.grades.S.accuracy } };
  });
  return { sa, byAge };
}

/**
 * face-api's shipped age/gender net on the whole UTKFace crops (as its authors feed it),
 * and its gender on the CelebA faces of `idx` as its own pipeline sees them: the face box
 * of its SSD detector (`detectSingleFace(...).withAgeAndGender()`), the whole image where
 * that finds no face. CelebA's aligned images show the face with much background around
 * it; fed whole, face-api's gender was right on 0.68 of them, which would flatter us.
 */
async function faceApiPeer(s: LabelledSet, idx: number[]) {
  type AgeGender = { age: number; gender: string; genderProbability: number };
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
    nets: { ageGenderNet: { loadFromDisk(d: string): Promise<void>; predictAgeAndGender(t: unknown): Promise<AgeGender> }; ssdMobilenetv1: { loadFromDisk(d: string): Promise<void> } };
    SsdMobilenetv1Options: new (o: { minConfidence: number }) => unknown;
    detectSingleFace(t: unknown, o: unknown): { withAgeAndGender(): Promise<AgeGender | undefined> };
  };
  await api.nets.ageGenderNet.loadFromDisk(faceApiModelDir());
  const utk = idx.filter((k) => s.source[k] === 1);
  let ms = 0;
  const rows: AgeGenderRow[] = [];
  const imageTensor = async (k: number) => {
    const img = await decodeImage(s.files[k]!);
    return tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  };
  const utkBar = progress('face-api peer, UTKFace', utk.length);
  for (const [i, k] of utk.entries()) {
    utkBar.update(i + 1);
    const t = await imageTensor(k);
    const t0 = performance.now();
    const r = await api.nets.ageGenderNet.predictAgeAndGender(t);
    ms += performance.now() - t0;
    t.dispose();
    rows.push({ age: s.age[k]!, genderOk: (r.gender === 'female' ? 1 : 0) === s.gender[k], ageError: Math.abs(r.age - s.age[k]!), said: r.age, female: femaleOfFaceApi(r) });
  }
  utkBar.stop();
  const celebaOk: boolean[] = [];
  const celebaFemale: number[] = [];
  let detected = 0;
  const cel = idx.filter((i) => s.source[i] === 0);
  if (cel.length) await api.nets.ssdMobilenetv1.loadFromDisk(faceApiModelDir());
  const celBar = cel.length ? progress('face-api peer, CelebA', cel.length) : undefined;
  for (const [i, k] of cel.entries()) {
    celBar?.update(i + 1);
    const t = await imageTensor(k);
    let r = await api.detectSingleFace(t, new api.SsdMobilenetv1Options({ minConfidence: 0.3 })).withAgeAndGender();
    if (r) detected++;
    else r = await api.nets.ageGenderNet.predictAgeAndGender(t);
    t.dispose();
    celebaOk.push((r.gender === 'female' ? 1 : 0) === s.gender[k]);
    celebaFemale.push(femaleOfFaceApi(r));
  }
  celBar?.stop();
  // the 64-px UTKFace faces and the CelebA gender crops, each whole (they are face crops already), in batches
  const more: Partial<Record<'utkface64' | 'celebaGender', number[]>> = {};
  for (const name of ['utkface64', 'celebaGender'] as const) {
    const faces = idx.filter((k) => s.source[k] === SOURCES.indexOf(name));
    if (!faces.length) continue;
    const bar = progress(`face-api peer, ${name}`, faces.length);
    const female: number[] = [];
    for (let i = 0; i < faces.length; i += 16) {
      bar.update(Math.min(faces.length, i + 16));
      const ts = await Promise.all(faces.slice(i, i + 16).map(imageTensor));
      const r = await api.nets.ageGenderNet.predictAgeAndGender(ts) as unknown as AgeGender[];
      ts.forEach((t) => t.dispose());
      female.push(...r.map(femaleOfFaceApi));
    }
    bar.stop();
    more[name] = female;
  }
  const f = ageGenderFigures(rows);
  return { rows, celebaOk, celebaFemale, more, celebaDetected: detected, figures: { n: f.n, ageMAE: f.ageMAE, genderAccuracy: f.genderAccuracy, genderAccuracyCI95: f.genderAccuracyCI95, msPerFace: ms / utk.length, byAgeClass: f.byAgeClass, adults: f.adults } };
}

/** The blended gender on one set of faces, beside each model alone, and by face-api's share. */
export interface BlendedGender {
  n: number; accuracy: number; accuracyCI95: [number, number]; network: number; faceApi: number; againstFaceApi: PairedComparison;
  byShare: Array<{ share: number; accuracy: number }>;
}

/** face-api's probability of female from its answer (its gender and the probability of that gender). */
const femaleOfFaceApi = (r: { gender: string; genderProbability: number }) => (r.gender === 'female' ? r.genderProbability : 1 - r.genderProbability);

export async function evalAttributes(opts: {
  model: string | tf.LayersModel; data: DataDirs; split?: 'all' | 'validation'; peer?: boolean; loaded?: LabelledSet;
  /** Average with the mirror image; by default what the model's manifest says (inference.flip). */
  flip?: boolean;
  /** Crop framing; by default what the model's manifest says (inference.zoom). */
  zoom?: number;
}): Promise<EvalReport> {
  await initRuntime();
  const model = typeof opts.model === 'string' ? await loadModel(opts.model) : opts.model;
  const size = inputSide(model, typeof opts.model === 'string' ? opts.model : undefined);
  const settings = typeof opts.model === 'string' ? readInferenceSettings(opts.model) : undefined;
  const flip = opts.flip ?? settings?.flip ?? false;
  const zoom = opts.zoom ?? opts.loaded?.zoom ?? settings?.zoom ?? 1;
  if (opts.loaded && opts.loaded.zoom !== zoom) throw new Error(`evalAttributes: crops framed at zoom ${opts.loaded.zoom}, model wants ${zoom}`);
  if (opts.loaded && opts.loaded.size !== size) throw new Error(`evalAttributes: crops of ${opts.loaded.size} px, the model takes ${size}`);
  const crops = phases('crops');
  const s = opts.loaded ?? (await loadLabelled(opts.data, { zoom, size, onProgress: crops.onProgress }));
  crops.stop();
  const split = opts.split ?? 'all';
  const idx = [...Array(s.n).keys()].filter((k) => split === 'all' || s.valid[k]);
  const utkRows: AgeGenderRow[] = [];
  const celebaGenderOk: boolean[] = [];
  const celebaFemale: number[] = [];
  const outputs = await predictAllFast(model, s, idx, 128, flip);
  const metrics = evaluate(model, s, idx, flip, { utkRows, celebaGenderOk, celebaFemale }, outputs);
  // The SA heads were fitted on the validation split's calibration half: on the
  // validation split their figures come from the other half.
  const saIdx = split === 'validation' ? idx.filter((k) => !s.calib[k]) : idx;
  // One pass over the SA faces and their low-resolution copies; the first block is the faces as they are.
  const factors = lowResFactors(s.size, LOW_RES_PX);
  const lowRes = withDegradedCopies(s, saIdx, factors);
  const lowOut = await predictAllFast(model, lowRes.set, lowRes.idx, 128, flip);
  const { sa, byAge } = saFigures(model, s, saIdx, lowOut.map((h) => h.slice(0, saIdx.length)));
  const byResolution = Object.fromEntries(factors.map((f, c) => [
    `${s.size / f}px`, saOn(model, lowOut, lowRes.set, lowRes.idx, saIdx.map((_, j) => (c + 1) * saIdx.length + j)),
  ]));
  // speed: one batch of 32 crops, after a warm-up
  const batch = idx.slice(0, 32);
  predictAll(model, s, batch, 32, flip);
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) predictAll(model, s, batch, 32, flip);
  const msPerFace = (performance.now() - t0) / 3 / batch.length;
  const report: EvalReport = {
    split, flip, ...metrics, saSoftmax: sa, saFaces: split === 'validation' ? 'validation without calibration' : 'all',
    saSoftmaxLowRes: { factors, saSoftmax: saOn(model, lowOut, lowRes.set, lowRes.idx), byResolution },
    ...(Object.keys(byAge).length ? { saGenderByAgeClass: byAge } : {}),
    noFaceRate: 0, cropMethods: {}, msPerFace: { batch32: Math.round(msPerFace * 100) / 100 },
  };
  for (const k of idx) {
    const m = METHODS[s.method[k]!]!;
    report.cropMethods[m] = (report.cropMethods[m] ?? 0) + 1;
  }
  report.noFaceRate = idx.length ? 1 - (report.cropMethods.detector ?? 0) / idx.length : 0;
  if (opts.peer !== false && idx.some((k) => s.source[k] === 1)) {
    const peer = await faceApiPeer(s, idx); // the same UTKFace faces in the same order as utkRows
    const right = peer.celebaOk.filter(Boolean).length;
    report.peer = { faceapi: {
      ...peer.figures, genderPaired: pairedComparison(utkRows.map((r) => r.genderOk), peer.rows.map((r) => r.genderOk)),
      ...(peer.celebaOk.length ? { celeba: {
        n: peer.celebaOk.length, detected: peer.celebaDetected, genderAccuracy: right / peer.celebaOk.length, genderAccuracyCI95: wilson95(right, peer.celebaOk.length),
        genderPaired: pairedComparison(celebaGenderOk, peer.celebaOk),
      } } : {}),
    } };
    const cel = idx.filter((k) => s.source[k] === 0);
    const utk = idx.filter((k) => s.source[k] === 1);
    const genderHead = outputs[model.outputNames.indexOf('gender')]!;
    const sets = Object.fromEntries((Object.entries(peer.more) as Array<[string, number[]]>).map(([name, faceApi]) => {
      const at = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === SOURCES.indexOf(name as (typeof SOURCES)[number]));
      return [name, { truth: at.map(([k]) => s.gender[k]!), ours: at.map(([, j]) => femaleOf(genderHead[j]!)), faceApi }];
    }));
    report.withFaceApi = withFaceApi(utkRows, peer.rows, { calibration: utk.map((k) => s.calib[k] === 1), female: utk.map((k) => s.gender[k]!) }, FACE_API_AGE_SHARE, FACE_API_GENDER_SHARE,
      cel.length ? { truth: cel.map((k) => s.gender[k]!), ours: celebaFemale, faceApi: peer.celebaFemale } : undefined, sets);
  }
  return report;
}

/**
 * The pipeline's answers with face-api beside the network, from both models' rows on the
 * same faces (same order): ages blended by `share`, gender where the two agree.
 */
export function withFaceApi(ours: AgeGenderRow[], faceApi: AgeGenderRow[], faces: { calibration: boolean[]; female: number[] }, share: number, genderShare: number,
  celeba?: { truth: number[]; ours: number[]; faceApi: number[] }, sets: Record<string, { truth: number[]; ours: number[]; faceApi: number[] }> = {}): NonNullable<EvalReport['withFaceApi']> {
  const { calibration, female: utkTruth } = faces; // utkTruth: 1 = female
  const shares = [...Array(11).keys()].map((k) => k / 10); // face-api's shares reported: 0 (the network alone) to 1 (face-api alone)
  const blend = (sh: number) => ours.map((r, i): AgeGenderRow => {
    const age = (1 - sh) * r.said! + sh * faceApi[i]!.said!;
    return { ...r, said: age, ageError: Math.abs(age - r.age) };
  });
  const blended = blend(share);
  const f = ageGenderFigures(blended);
  const half = (cal: boolean, rows0 = blended) => {
    const rows = rows0.filter((_, i) => calibration[i] === cal);
    return { n: rows.length, ageMAE: rows.length ? rows.reduce((a, r) => a + r.ageError, 0) / rows.length : NaN };
  };
  const byShare = shares.map((sh) => {
    const rows = blend(sh);
    return { share: sh, calibration: half(true, rows).ageMAE, other: half(false, rows).ageMAE };
  });
  // the network's gender is right where face-api's is: both right or both wrong
  const agree = ours.map((r, i) => r.genderOk === faceApi[i]!.genderOk);
  const kept = ours.filter((_, i) => agree[i]);
  const right = kept.filter((r) => r.genderOk).length;
  // the gender blended as trackGender blends a track's: the log-odds of the two probabilities
  const blendOk = (sh: number, truth: number[], a: number[], b: number[]) => truth.map((t, i) => (blendProbability(a[i]!, b[i]!, sh) >= 0.5 ? 1 : 0) === t);
  const gOk = (sh: number) => blendOk(sh, utkTruth, ours.map((r) => r.female!), faceApi.map((r) => r.female!));
  const share2 = (ok: boolean[], cal: boolean) => { const m = ok.filter((_, i) => calibration[i] === cal); return m.length ? m.filter(Boolean).length / m.length : NaN; };
  const gBlend = gOk(genderShare);
  const gRight = gBlend.filter(Boolean).length;
  const rightShare = (ok: boolean[]) => ok.filter(Boolean).length / ok.length;
  const onSet = (x: { truth: number[]; ours: number[]; faceApi: number[] }): BlendedGender => {
    const ok = blendOk(genderShare, x.truth, x.ours, x.faceApi);
    const right = ok.filter(Boolean).length;
    const alone = (p: number[]) => x.truth.map((t, i) => (p[i]! >= 0.5 ? 1 : 0) === t);
    return {
      n: ok.length, accuracy: right / ok.length, accuracyCI95: wilson95(right, ok.length),
      network: rightShare(alone(x.ours)), faceApi: rightShare(alone(x.faceApi)), againstFaceApi: pairedComparison(ok, alone(x.faceApi)),
      byShare: shares.map((sh) => ({ share: sh, accuracy: rightShare(blendOk(sh, x.truth, x.ours, x.faceApi)) })),
    };
  };
  return {
    share, n: f.n, ageMAE: f.ageMAE, adults: { n: f.adults.n, ageMAE: f.adults.ageMAE }, byAgeClass: f.byAgeClass,
    halves: { calibration: half(true), other: half(false) }, byShare,
    genderWhereAgree: { n: kept.length, share: ours.length ? kept.length / ours.length : 0, accuracy: kept.length ? right / kept.length : 0, accuracyCI95: wilson95(right, kept.length) },
    gender: {
      share: genderShare, n: gBlend.length, accuracy: gBlend.length ? gRight / gBlend.length : 0, accuracyCI95: wilson95(gRight, gBlend.length),
      againstFaceApi: pairedComparison(gBlend, faceApi.map((r) => r.genderOk)),
      byShare: shares.map((sh) => { const ok = gOk(sh); return { share: sh, calibration: share2(ok, true), other: share2(ok, false) }; }),
      ...(celeba && celeba.truth.length ? { celeba: onSet(celeba) } : {}),
      sets: Object.fromEntries(Object.entries(sets).map(([name, x]) => [name, onSet(x)])),
    },
  };
}

