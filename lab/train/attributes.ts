/**
 * `facestream train attributes`: one network, all datasets at once (docs/method.md §1,
 * "problem 1"). Each sample adds loss only to the heads its dataset labels:
 *   CelebA  -> celeba (40 attributes), gender (from Male), smile (from Smiling)
 *   UTKFace -> gender, age (regression), age5
 *   SMILE   -> smile
 * Phase 1 trains the trunk and the plain heads; the SA heads (N+1 outputs) are trained
 * afterwards by the dynamic-tag rounds (src/train/sa.ts) on cached features.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FacestreamError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { rng } from '../../src/calculators/random.ts';
import { loadModel, saveModel } from '../../src/models/io.ts';
import { outputRows, predictMaybeFlipped } from '../../src/models/batch.ts';
import { foldBatchNorm } from '../../src/models/fold.ts';
import { INPUT_SIZE, inputSide } from '../../src/models/attributes/network.ts';
import { buildAttributeNet, setDropoutSeeds } from '../models/attributes-net.ts';
import { initRuntime, tf } from '../runtime.ts';
import { buildCrops, methodCounts, type CropSet } from './crops.ts';
import { invertAffine, type Affine } from '../../src/calculators/similarity.ts';
import { warpAffine } from '../../src/calculators/warp.ts';
import { GradientThreads, splitShares } from './parallel.ts';
import { phases, progress } from '../../src/progress.ts';
import { meanInterval95, wilson95 } from './stats.ts';
import { AGE_BINS, ageClass, isCalibration, isValidation, readCeleba, readGenderFolders, readSmile, readUtkface, CELEBA_ATTRIBUTES } from './datasets.ts';
import { ADULTS } from '../../src/models/attributes/labels.ts';

const log = createLogger('train');

export interface LabelledSet {
  crops: Uint8Array;
  size: number;
  /** The crops' framing (src/calculators/similarity.ts template zoom). */
  zoom: number;
  n: number;
  source: Uint8Array; // SOURCES: 0 celeba, 1 utk, 2 smile, 3 utk64, 4 celeba-gender
  celeba: Uint8Array; // n * 40
  /**
   * A teacher model's probabilities of the 40 attributes (n * 40, `--teacher`) for faces no
   * CelebA attribute label comes with (the CelebA gender crops of the training split); NaN
   * where none is given. Trained on like labels (distillation onto more faces).
   */
  celebaSoft?: Float32Array;
  gender: Int8Array; // -1 unknown, 0 male, 1 female
  age: Float32Array; // NaN unknown
  /** UTKFace's race label (UTK_RACES), -1 unknown; absent on sets derived without it. */
  race?: Int8Array;
  smile: Int8Array; // -1 unknown
  valid: Uint8Array; // 1 = validation split
  calib: Uint8Array; // 1 = the validation split's calibration half (SA heads are fitted there)
  /** How each crop was found: index into METHODS (detector, landmarks, center). */
  method: Uint8Array;
  files: string[];
  methods: Record<string, number>;
}

/**
 * The labelled folders. `utkface64`: more UTKFace faces at 64x64 (labelled as `utkface`);
 * `celebaGender`: CelebA crops labelled male/female only (readGenderFolders).
 */
export interface DataDirs { celeba?: string; utkface?: string; smile?: string; utkface64?: string; celebaGender?: string }

/** Index = `LabelledSet.source`. */
export const SOURCES = ['celeba', 'utkface', 'smile', 'utkface64', 'celebaGender'] as const;
/** Sources whose faces carry age and gender from UTKFace's names. */
export const isUtk = (source: number) => source === 1 || source === 3;

/** Reads the datasets, builds (or loads cached) aligned crops, and labels every sample. */
export async function loadLabelled(dirs: DataDirs, opts: { size?: number; zoom?: number; name?: string; onProgress?: (what: string, done: number, total: number) => void } = {}): Promise<LabelledSet> {
  const size = opts.size ?? INPUT_SIZE;
  const parts: Array<{ set: CropSet; source: number; label: (i: number, s: LabelledSet, at: number) => void }> = [];
  const progress = (what: string) => (d: number, t: number) => opts.onProgress?.(what, d, t);
  if (dirs.celeba) {
    const items = readCeleba(dirs.celeba);
    const male = CELEBA_ATTRIBUTES.indexOf('Male');
    const smiling = CELEBA_ATTRIBUTES.indexOf('Smiling');
    const set = await buildCrops(items.map((s) => s.file), { size, zoom: opts.zoom, name: `${opts.name ?? 'data'}-celeba`, onProgress: progress('celeba') });
    parts.push({ set, source: 0, label: (i, s, at) => {
      s.celeba.set(items[i]!.attributes, at * 40);
      s.gender[at] = items[i]!.attributes[male] ? 0 : 1;
      s.smile[at] = items[i]!.attributes[smiling]!;
    } });
  }
  if (dirs.utkface) {
    const { samples: items, skipped, duplicates } = readUtkface(dirs.utkface);
    if (skipped.length || duplicates) log.info(`UTKFace: ${skipped.length} malformed names skipped, ${duplicates} duplicate images dropped`);
    const set = await buildCrops(items.map((s) => s.file), { size, zoom: opts.zoom, name: `${opts.name ?? 'data'}-utkface`, onProgress: progress('utkface') });
    parts.push({ set, source: 1, label: (i, s, at) => { s.gender[at] = items[i]!.gender; s.age[at] = items[i]!.age; s.race![at] = items[i]!.race; } });
  }
  if (dirs.utkface64) {
    const { samples: items, skipped, duplicates } = readUtkface(dirs.utkface64);
    if (skipped.length || duplicates) log.info(`UTKFace 64: ${skipped.length} malformed names skipped, ${duplicates} duplicate images dropped`);
    const set = await buildCrops(items.map((s) => s.file), { size, zoom: opts.zoom, name: `${opts.name ?? 'data'}-utkface64`, onProgress: progress('utkface64') });
    parts.push({ set, source: 3, label: (i, s, at) => { s.gender[at] = items[i]!.gender; s.age[at] = items[i]!.age; s.race![at] = items[i]!.race; } });
  }
  if (dirs.celebaGender) {
    const items = readGenderFolders(dirs.celebaGender);
    const set = await buildCrops(items.map((s) => s.file), { size, zoom: opts.zoom, name: `${opts.name ?? 'data'}-celeba-gender`, onProgress: progress('celeba-gender') });
    parts.push({ set, source: 4, label: (i, s, at) => { s.gender[at] = items[i]!.gender; } });
  }
  if (dirs.smile) {
    const items = readSmile(dirs.smile);
    const set = await buildCrops(items.map((s) => s.file), { size, zoom: opts.zoom, name: `${opts.name ?? 'data'}-smile`, onProgress: progress('smile') });
    parts.push({ set, source: 2, label: (i, s, at) => { s.smile[at] = items[i]!.smiling; } });
  }
  const n = parts.reduce((a, p) => a + p.set.files.length, 0);
  const per = size * size * 3;
  const s: LabelledSet = {
    crops: new Uint8Array(n * per), size, zoom: opts.zoom ?? 1, n, source: new Uint8Array(n), celeba: new Uint8Array(n * 40),
    gender: new Int8Array(n).fill(-1), age: new Float32Array(n).fill(NaN), race: new Int8Array(n).fill(-1), smile: new Int8Array(n).fill(-1),
    valid: new Uint8Array(n), calib: new Uint8Array(n), method: new Uint8Array(n), files: [], methods: {},
  };
  let at = 0;
  for (const p of parts) {
    s.crops.set(p.set.data, at * per);
    for (const [m, c] of Object.entries(methodCounts(p.set))) s.methods[m] = (s.methods[m] ?? 0) + c;
    p.set.files.forEach((file, i) => {
      s.source[at] = p.source;
      s.valid[at] = isValidation(file) ? 1 : 0;
      s.calib[at] = isCalibration(file) ? 1 : 0;
      s.method[at] = p.set.method[i]!;
      s.files.push(file);
      p.label(i, s, at);
      at++;
    });
  }
  return s;
}

/** Shuffling and augmentation draw from the seeded PRNG. */
export { rng };

export interface Batch {
  x: tf.Tensor4D;
  labels: Record<string, tf.Tensor>;
}

/**
 * A random small similarity warp of a crop (shift up to `shift` px, scale 1 +- `scale`,
 * rotation up to `rotDeg`) by the crops' own warp (bilinear, border replicated); `flip`
 * mirrors it as well.
 */
export function jitterCrop(src: Uint8Array, size: number, r: () => number, flip: boolean, o = { shift: 3, scale: 0.07, rotDeg: 8 }): Uint8Array {
  const c = (size - 1) / 2;
  const sc = 1 + (r() * 2 - 1) * o.scale;
  const th = ((r() * 2 - 1) * o.rotDeg * Math.PI) / 180;
  const tx = (r() * 2 - 1) * o.shift, ty = (r() * 2 - 1) * o.shift;
  const cos = Math.cos(th) / sc, sin = Math.sin(th) / sc;
  // crop pixel -> source pixel: (x mirrored if flip) - centre - shift, rotated and scaled, + centre
  const fx = flip ? -1 : 1, gx = flip ? c - tx : -c - tx, gy = -c - ty;
  const inverse: Affine = [cos * fx, -sin, cos * gx - sin * gy + c, sin * fx, cos, sin * gx + cos * gy + c];
  return warpAffine({ width: size, height: size, data: src }, invertAffine(inverse), size, size).data;
}

/**
 * Builds a batch; `augment` flips half the faces and jitters brightness and contrast;
 * with `geometric` also a small random shift, scale and rotation (`jitterCrop`).
 */
export function makeBatch(s: LabelledSet, idx: number[], augment?: () => number, geometric = false): Batch {
  const size = s.size;
  const per = size * size * 3;
  const b = idx.length;
  const x = new Float32Array(b * per);
  const celeba = new Float32Array(b * 40), celebaMask = new Float32Array(b);
  const gender = new Float32Array(b * 2), genderMask = new Float32Array(b);
  const age = new Float32Array(b), ageMask = new Float32Array(b);
  const age5 = new Float32Array(b * 5), age5Mask = new Float32Array(b);
  const smile = new Float32Array(b * 2), smileMask = new Float32Array(b);
  idx.forEach((k, i) => {
    let src = s.crops.subarray(k * per, (k + 1) * per);
    let flip = augment ? augment() < 0.5 : false;
    const gain = augment ? 0.8 + 0.4 * augment() : 1;
    const bias = augment ? (augment() - 0.5) * 0.2 : 0;
    if (augment && geometric) { src = jitterCrop(src, size, augment, flip, { shift: (3 * size) / 64, scale: 0.07, rotDeg: 8 }); flip = false; }
    const o = i * per;
    for (let y = 0; y < size; y++) {
      for (let xx = 0; xx < size; xx++) {
        const from = (y * size + (flip ? size - 1 - xx : xx)) * 3;
        const to = o + (y * size + xx) * 3;
        for (let c = 0; c < 3; c++) x[to + c] = Math.min(1, Math.max(0, (src[from + c]! / 255 - 0.5) * gain + 0.5 + bias));
      }
    }
    if (s.source[k] === 0) { celebaMask[i] = 1; for (let a = 0; a < 40; a++) celeba[i * 40 + a] = s.celeba[k * 40 + a]!; }
    else if (s.celebaSoft && !Number.isNaN(s.celebaSoft[k * 40]!)) { celebaMask[i] = 1; for (let a = 0; a < 40; a++) celeba[i * 40 + a] = s.celebaSoft[k * 40 + a]!; }
    if (s.gender[k]! >= 0) { genderMask[i] = 1; gender[i * 2 + s.gender[k]!] = 1; }
    if (!Number.isNaN(s.age[k]!)) {
      ageMask[i] = 1; age[i] = s.age[k]! / 100;
      age5Mask[i] = 1; age5[i * 5 + ageClass(s.age[k]!)] = 1;
    }
    if (s.smile[k]! >= 0) { smileMask[i] = 1; smile[i * 2 + s.smile[k]!] = 1; }
  });
  return {
    x: tf.tensor4d(x, [b, size, size, 3]),
    labels: {
      celeba: tf.tensor2d(celeba, [b, 40]), celebaMask: tf.tensor1d(celebaMask),
      gender: tf.tensor2d(gender, [b, 2]), genderMask: tf.tensor1d(genderMask),
      age: tf.tensor2d(age, [b, 1]), ageMask: tf.tensor1d(ageMask),
      age5: tf.tensor2d(age5, [b, 5]), age5Mask: tf.tensor1d(age5Mask),
      smile: tf.tensor2d(smile, [b, 2]), smileMask: tf.tensor1d(smileMask),
    },
  };
}

/** Mean of per-sample losses over the samples whose mask is 1 (0 when none is). */
function masked(perSample: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(perSample, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

export const AGE_LOSS_WEIGHT = 5;

/** The masked multi-task loss of phase 1 (plain heads). `outputs` in HEADS order. */
export function multiTaskLoss(outputs: tf.Tensor[], l: Record<string, tf.Tensor>): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const [celeba, gender, , age, age5, , smile] = outputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const bce = tf.mean(tf.sub(tf.add(tf.relu(celeba), tf.log1p(tf.exp(tf.neg(tf.abs(celeba))))), tf.mul(celeba, l.celeba!)), 1);
  const ce = (logits: tf.Tensor, onehot: tf.Tensor) => tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
  const parts = {
    celeba: masked(bce, l.celebaMask!),
    gender: masked(ce(gender, l.gender!), l.genderMask!),
    age: tf.mul(masked(tf.reshape(tf.abs(tf.sub(age, l.age!)), [-1]), l.ageMask!), AGE_LOSS_WEIGHT) as tf.Scalar,
    age5: masked(ce(age5, l.age5!), l.age5Mask!),
    smile: masked(ce(smile, l.smile!), l.smileMask!),
  };
  const total = tf.addN(Object.values(parts)) as tf.Scalar;
  return { total, parts };
}

/** Gender accuracy and age error per true age class (the age-5 head's bins, AGE_BINS). */
export type AgeClassBreakdown = Record<string, { n: number; genderAccuracy: number | null; ageMAE: number | null }>;

/** One face: its true age, whether the gender was right, the age error; `said`: the age answered, `female`: the probability it gave female. */
export interface AgeGenderRow { age: number; genderOk: boolean; ageError: number; said?: number; female?: number }

/** The probability of female from the gender head's two logits (male, female). */
export const femaleOf = (logits: ArrayLike<number>) => 1 / (1 + Math.exp(logits[0]! - logits[1]!));

/** Per-age-class figures from per-face rows: true age, whether the gender was right, the age error. */
export function byAgeClass(rows: AgeGenderRow[]): AgeClassBreakdown {
  const out: AgeClassBreakdown = {};
  for (const [c, bin] of AGE_BINS.entries()) {
    const mine = rows.filter((r) => ageClass(r.age) === c);
    const n = mine.length;
    out[bin.name] = {
      n,
      genderAccuracy: n ? mine.filter((r) => r.genderOk).length / n : null,
      ageMAE: n ? mine.reduce((a, r) => a + r.ageError, 0) / n : null,
    };
  }
  return out;
}

/** Age MAE, gender accuracy (with its 95% interval) and their breakdown by age class, and the adults' (20-59), from per-face rows. */
export function ageGenderFigures(rows: AgeGenderRow[]): { n: number; ageMAE: number; genderAccuracy: number; genderAccuracyCI95: [number, number]; byAgeClass: AgeClassBreakdown; adults: { n: number; ageMAE: number | null; genderAccuracy: number | null } } {
  const n = rows.length;
  const right = rows.filter((r) => r.genderOk).length;
  const adults = rows.filter((r) => r.age >= ADULTS.from && r.age <= ADULTS.to);
  return {
    n,
    ageMAE: rows.reduce((a, r) => a + r.ageError, 0) / n,
    genderAccuracy: right / n,
    genderAccuracyCI95: wilson95(right, n),
    byAgeClass: byAgeClass(rows),
    adults: {
      n: adults.length,
      ageMAE: adults.length ? adults.reduce((a, r) => a + r.ageError, 0) / adults.length : null,
      genderAccuracy: adults.length ? adults.filter((r) => r.genderOk).length / adults.length : null,
    },
  };
}

/** Disposes a batch's input and label tensors. */
export function disposeBatch(b: Batch): void {
  tf.dispose([b.x, ...Object.values(b.labels)]);
}

/** UTKFace's race labels, by their number in the file names. */
export const UTK_RACES = ['White', 'Black', 'Asian', 'Indian', 'Others'] as const;

export interface UtkFigures {
  n: number; ageMAE: number; genderAccuracy: number; genderAccuracyCI95?: [number, number]; age5Accuracy: number; byAgeClass: AgeClassBreakdown;
  /** Adults 20-59 (ADULTS). */
  adults?: { n: number; ageMAE: number | null; genderAccuracy: number | null };
  /** By UTKFace's race label (UTK_RACES). */
  byRace?: Record<string, { n: number; genderAccuracy: number; ageMAE: number }>;
}

export interface EvalMetrics {
  /** Each `...CI95`: the 95% interval of the figure beside it, from these faces alone (src/train/stats.ts). */
  celeba?: { n: number; meanAccuracy: number; meanAccuracyCI95?: [number, number]; majorityBaseline: number; attributes: Record<string, number> };
  utkface?: UtkFigures;
  smile?: { n: number; accuracy: number; accuracyCI95?: [number, number] };
  /** The 64x64 UTKFace faces (`utkface64/`), apart from `utkface` so that figures stay comparable with earlier models'. */
  utkface64?: UtkFigures;
  /** The CelebA gender crops (`--celeba-gender`). */
  celebaGender?: { n: number; accuracy: number; accuracyCI95?: [number, number] };
  celebaGenderAccuracy?: number;
  celebaSmileAccuracy?: number;
}

/**
 * Runs the model in inference mode on the samples `idx` and returns the raw outputs per
 * head. `flip`: the outputs averaged over each face and its mirror image.
 */
export function predictAll(model: tf.LayersModel, s: LabelledSet, idx: number[], batch = 128, flip = false): Float32Array[][] {
  const heads: Float32Array[][] = model.outputNames.map(() => []);
  const bar = idx.length > 2000 ? progress('predict', idx.length) : undefined;
  for (let i = 0; i < idx.length; i += batch) {
    bar?.update(Math.min(idx.length, i + batch));
    const part = idx.slice(i, i + batch);
    const rows = tf.tidy(() => {
      const b = makeBatch(s, part);
      const out = predictMaybeFlipped(model, b.x, flip);
      return out.map((t) => ({ data: t.dataSync() as Float32Array, width: t.shape[1]! }));
    });
    rows.forEach((r, h) => part.forEach((_, j) => heads[h]!.push(r.data.slice(j * r.width, (j + 1) * r.width))));
  }
  bar?.stop();
  return heads;
}

/**
 * predictAll on onnxruntime when it is installed and the model maps to ONNX (a folded
 * model: no BatchNorm layers), several times faster than tfjs' wasm; else predictAll.
 * The outputs are the same within 1e-4 (lab/onnx/export.test.ts).
 */
export async function predictAllFast(model: tf.LayersModel, s: LabelledSet, idx: number[], batch = 128, flip = false): Promise<Float32Array[][]> {
  let session: import('onnxruntime-common').InferenceSession | undefined;
  const { ort } = (await import('../../src/runtime/onnx.ts')).requireOnnxRuntime();
  if (!ort) return predictAll(model, s, idx, batch, flip);
  try {
    const { layersToOnnx } = await import('../onnx/export.ts');
    const { encodeModel } = await import('../onnx/proto.ts');
    session = await ort.InferenceSession.create(encodeModel(layersToOnnx(model).graph), { graphOptimizationLevel: 'all' });
  } catch {
    return predictAll(model, s, idx, batch, flip);
  }
  const heads: Float32Array[][] = model.outputNames.map(() => []);
  const bar = idx.length > 2000 ? progress('predict (onnxruntime)', idx.length) : undefined;
  const side = s.size;
  try {
    for (let i = 0; i < idx.length; i += batch) {
      bar?.update(Math.min(idx.length, i + batch));
      const part = idx.slice(i, i + batch);
      const x = tf.tidy(() => { const b = makeBatch(s, part); return Float32Array.from((flip ? tf.concat([b.x, tf.reverse(b.x, 2)]) : b.x).dataSync()); });
      const rows = flip ? 2 * part.length : part.length;
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [rows, side, side, 3]) });
      model.outputNames.forEach((name, h) => { heads[h]!.push(...outputRows(out[name]!.data as Float32Array, part.length, flip)); });
    }
  } finally {
    bar?.stop();
    await session.release();
  }
  return heads;
}

const argmax = (a: ArrayLike<number>) => { let m = 0; for (let i = 1; i < a.length; i++) if (a[i]! > a[m]!) m = i; return m; };

/**
 * `keep.utkRows` / `keep.celebaGenderOk`, when given, receive the per-face UTKFace rows and
 * CelebA gender right/wrong (in `idx` order) for paired comparisons.
 */
export function evaluate(model: tf.LayersModel, s: LabelledSet, idx: number[], flip = false, keep: { utkRows?: AgeGenderRow[]; celebaGenderOk?: boolean[]; celebaFemale?: number[] } = {}, outputs?: Float32Array[][]): EvalMetrics {
  const out = outputs ?? predictAll(model, s, idx, 128, flip);
  const head = (name: string) => out[model.outputNames.indexOf(name)]!;
  const m: EvalMetrics = {};
  const cIdx = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 0);
  if (cIdx.length) {
    const attributes: Record<string, number> = {};
    const perFace = new Float64Array(cIdx.length); // share of the 40 attributes right, per face
    let baseline = 0;
    CELEBA_ATTRIBUTES.forEach((name, a) => {
      let correct = 0, pos = 0;
      cIdx.forEach(([k, j], f) => {
        const truth = s.celeba[k * 40 + a]!;
        pos += truth;
        if ((head('celeba')[j]![a]! > 0 ? 1 : 0) === truth) { correct++; perFace[f] += 1 / 40; }
      });
      attributes[name] = correct / cIdx.length;
      baseline += Math.max(pos, cIdx.length - pos) / cIdx.length;
    });
    const accs = Object.values(attributes);
    m.celeba = { n: cIdx.length, meanAccuracy: accs.reduce((a, b) => a + b, 0) / accs.length, meanAccuracyCI95: meanInterval95(perFace), majorityBaseline: baseline / 40, attributes };
    const genderOk = cIdx.map(([k, j]) => argmax(head('gender')[j]!) === s.gender[k]);
    keep.celebaGenderOk?.push(...genderOk);
    keep.celebaFemale?.push(...cIdx.map(([, j]) => femaleOf(head('gender')[j]!)));
    m.celebaGenderAccuracy = genderOk.filter(Boolean).length / cIdx.length;
    m.celebaSmileAccuracy = cIdx.filter(([k, j]) => argmax(head('smile')[j]!) === s.smile[k]).length / cIdx.length;
  }
  const utkFigures = (uIdx: Array<readonly [number, number]>, keepRows?: AgeGenderRow[]) => {
    const rows = uIdx.map(([k, j]): AgeGenderRow => ({
      age: s.age[k]!, genderOk: argmax(head('gender')[j]!) === s.gender[k], ageError: Math.abs(head('age')[j]![0]! * 100 - s.age[k]!), said: head('age')[j]![0]! * 100, female: femaleOf(head('gender')[j]!),
    }));
    const a5 = uIdx.filter(([k, j]) => argmax(head('age5')[j]!) === ageClass(s.age[k]!)).length;
    const f = ageGenderFigures(rows);
    keepRows?.push(...rows);
    const byRace: Record<string, { n: number; genderAccuracy: number; ageMAE: number }> = {};
    if (s.race) {
      UTK_RACES.forEach((name, r) => {
        const mine = rows.filter((_, i) => s.race![uIdx[i]![0]] === r);
        if (mine.length) byRace[name] = { n: mine.length, genderAccuracy: mine.filter((x) => x.genderOk).length / mine.length, ageMAE: mine.reduce((a, x) => a + x.ageError, 0) / mine.length };
      });
    }
    return {
      n: f.n, ageMAE: f.ageMAE, genderAccuracy: f.genderAccuracy, genderAccuracyCI95: f.genderAccuracyCI95,
      age5Accuracy: a5 / uIdx.length, byAgeClass: f.byAgeClass, adults: f.adults, ...(s.race ? { byRace } : {}),
    };
  };
  const uIdx = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 1);
  if (uIdx.length) m.utkface = utkFigures(uIdx, keep.utkRows);
  const u64 = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 3);
  if (u64.length) m.utkface64 = utkFigures(u64);
  const cg = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 4);
  if (cg.length) {
    const right = cg.filter(([k, j]) => argmax(head('gender')[j]!) === s.gender[k]).length;
    m.celebaGender = { n: cg.length, accuracy: right / cg.length, accuracyCI95: wilson95(right, cg.length) };
  }
  const sIdx = idx.map((k, j) => [k, j] as const).filter(([k]) => s.source[k] === 2);
  if (sIdx.length) {
    const right = sIdx.filter(([k, j]) => argmax(head('smile')[j]!) === s.smile[k]).length;
    m.smile = { n: sIdx.length, accuracy: right / sIdx.length, accuracyCI95: wilson95(right, sIdx.length) };
  }
  return m;
}

export interface TrainOptions {
  data: DataDirs;
  out: string;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  resume: boolean;
  /** Stop after this many minutes, at the next checkpoint (every epoch end, and every `checkpointMinutes` within one). */
  maxMinutes?: number;
  /** Within an epoch, a checkpoint every this many minutes (an epoch on the full data outlasts a session); 20 by default. */
  checkpointMinutes?: number;
  /** UTKFace faces are seen this many times per epoch (the smallest set with age and gender). */
  utkRepeat?: number;
  /** The command line, kept in the checkpoint's state so the export can say how to reproduce it. */
  command?: string;
  /** Crop framing (template zoom, 1 = the tight 112 template); a resumed run keeps its own. */
  zoom?: number;
  /** Start from this model folder's weights (unfolded) with a fresh schedule: fine-tuning. */
  init?: string;
  /** Side of the training crops in pixels (a multiple of 16); 64 by default; a resumed run keeps its own. */
  size?: number;
  /**
   * A finished attribute model whose 40 CelebA probabilities (with the mirror pass) become the
   * targets of the CelebA gender crops of the training split, which have no attribute labels;
   * kept by --resume (computed once, cached in the run's folder).
   */
  teacher?: string;
  /** Geometric augmentation as well (small random shift, scale, rotation); kept by --resume. */
  jitter?: boolean;
  /** Threads computing each batch's gradients (data-parallel, src/train/parallel.ts); 1 by default. */
  threads?: number;
  /**
   * The dropout of checkpoints trained before 2026-11-30: one fixed mask per batch row at
   * every step (tfjs' seeded Dropout). Only to reproduce the shipped model's runs.
   */
  legacyDropout?: boolean;
}

export interface State {
  /** Within epoch `epoch` (0-based: the one under way), the steps already taken and their summed loss: a checkpoint saved mid-epoch. */
  partial?: { step: number; lossSum: number; seconds: number };
  epoch: number; seed: number; zoom?: number; size?: number; init?: string; jitter?: boolean; teacher?: string; dropout?: 'per-step' | 'fixed'; history: Array<{ epoch: number; loss: number; seconds: number; lr?: number; utkRepeat?: number; val: EvalMetrics }>; commands?: string[] }

/**
 * The teacher's probabilities of the 40 CelebA attributes, with the mirror pass, on the
 * training split's CelebA gender crops (NaN elsewhere), Male replaced by their own label; computed once per run and cached in
 * `cache` (with the teacher's weights' hash and the faces' names, so a changed teacher or data
 * computes them again).
 */
export async function teacherTargets(teacherDir: string, data: LabelledSet, cache: string): Promise<Float32Array> {
  const idx = [...Array(data.n).keys()].filter((k) => data.source[k] === 4 && !data.valid[k]);
  const { createHash } = await import('node:crypto');
  const weights = path.join(teacherDir, 'weights.bin');
  if (!fs.existsSync(weights)) throw new FacestreamError('FS_ERR_USAGE', `--teacher ${teacherDir}: no weights.bin (a finished attribute model folder is wanted)`);
  const key = createHash('sha256').update(fs.readFileSync(weights)).update(idx.map((k) => data.files[k]).join('\n')).digest('hex');
  const out = new Float32Array(data.n * 40).fill(NaN);
  let probs: Float32Array | undefined;
  if (fs.existsSync(cache) && fs.existsSync(`${cache}.key`) && fs.readFileSync(`${cache}.key`, 'utf8') === key) {
    const buf = fs.readFileSync(cache);
    probs = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    log.info(`teacher targets of ${idx.length} faces read from ${cache}`);
  } else {
    const teacher = await loadModel(teacherDir);
    if (!teacher.outputNames.includes('celeba')) throw new FacestreamError('FS_ERR_USAGE', `--teacher ${teacherDir}: not an attribute model`);
    if (inputSide(teacher, teacherDir) !== data.size) throw new FacestreamError('FS_ERR_USAGE', `--teacher ${teacherDir} takes ${inputSide(teacher, teacherDir)}-px crops, the run ${data.size}-px`);
    const head = (await predictAllFast(teacher, data, idx, 128, true))[teacher.outputNames.indexOf('celeba')]!;
    teacher.dispose();
    probs = new Float32Array(idx.length * 40);
    head.forEach((row, j) => { for (let a = 0; a < 40; a++) probs![j * 40 + a] = 1 / (1 + Math.exp(-row[a]!)); });
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    fs.writeFileSync(cache, Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength));
    fs.writeFileSync(`${cache}.key`, key);
    log.info(`teacher targets of ${idx.length} faces from ${teacherDir}, cached in ${cache}`);
  }
  if (probs.length !== idx.length * 40) throw new FacestreamError('FS_ERR_USAGE', `${cache}: ${probs.length / 40} faces, ${idx.length} wanted; delete it to compute it again`);
  // their own label where they have one: the teacher's Male attribute said male of 58% of
  // these crops, half of which are
  const male = CELEBA_ATTRIBUTES.indexOf('Male');
  idx.forEach((k, j) => {
    out.set(probs!.subarray(j * 40, j * 40 + 40), k * 40);
    if (data.gender[k]! >= 0) out[k * 40 + male] = data.gender[k] === 0 ? 1 : 0;
  });
  return out;
}

export async function trainAttributes(o: TrainOptions): Promise<{ model: tf.LayersModel; state: State; data: LabelledSet }> {
  await initRuntime();
  log.info('settings', { ...o });
  const ckpt = path.join(o.out, 'checkpoint');
  const stateFile = path.join(ckpt, 'state.json');
  let model: tf.LayersModel;
  let state: State = { epoch: 0, seed: o.seed, zoom: o.zoom ?? 1, size: o.size ?? INPUT_SIZE, jitter: o.jitter ?? false, ...(o.teacher ? { teacher: path.resolve(o.teacher) } : {}), dropout: o.legacyDropout ? 'fixed' : 'per-step', history: [] };
  if (o.resume && fs.existsSync(stateFile)) {
    model = await loadModel(ckpt);
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as State;
    log.info(`resumed from ${ckpt} after epoch ${state.epoch}`);
    // checkpoints written before the per-step dropout seeds trained with fixed masks
    state.dropout ??= 'fixed';
    // The first run's command, for checkpoints written before commands were kept.
    state.commands ??= ['facestream train attributes --epochs 9 --batch 64 --lr 0.002 --seed 1 --legacy-dropout'];
    if (o.size !== undefined && o.size !== (state.size ?? INPUT_SIZE)) throw new FacestreamError('FS_ERR_USAGE', `--size ${o.size} differs from the checkpoint's ${state.size ?? INPUT_SIZE}; a resumed run keeps its crops`);
    if (o.zoom !== undefined && o.zoom !== (state.zoom ?? 1)) throw new FacestreamError('FS_ERR_USAGE', `--zoom ${o.zoom} differs from the checkpoint's ${state.zoom ?? 1}; a resumed run keeps its crops`);
    if (o.teacher && path.resolve(o.teacher) !== state.teacher) throw new FacestreamError('FS_ERR_USAGE', `--teacher ${o.teacher} differs from the checkpoint's ${state.teacher ?? '(none)'}; a resumed run keeps its targets`);
  } else if (o.init) {
    model = await loadModel(o.init);
    if (model.layers.some((l) => l.name.endsWith('_bn')) === false) throw new FacestreamError('FS_ERR_USAGE', `--init ${o.init}: a folded model (no BatchNorm layers) cannot be trained; give a training checkpoint`);
    state.init = o.init;
    if (o.size === undefined) state.size = inputSide(model, o.init);
    // The reproducing command chain starts with the runs that made the starting point.
    const initState = path.join(o.init, 'state.json');
    if (fs.existsSync(initState)) state.commands = (JSON.parse(fs.readFileSync(initState, 'utf8')) as State).commands;
    log.info(`fine-tuning from ${o.init}`);
  } else {
    model = buildAttributeNet({ seed: o.seed, inputSize: state.size });
  }
  const side = state.size ?? INPUT_SIZE;
  const modelSide = inputSide(model);
  if (modelSide !== side) throw new FacestreamError('FS_ERR_USAGE', `the model takes ${modelSide}-px crops, the run ${side}-px (--size)`);
  const crops = phases('crops');
  const data = await loadLabelled(o.data, { size: side, zoom: state.zoom ?? 1, onProgress: crops.onProgress });
  crops.stop();
  if (state.teacher) data.celebaSoft = await teacherTargets(state.teacher, data, path.join(o.out, 'teacher-celeba.bin'));
  log.info(`samples: ${data.n} (validation ${data.valid.reduce((a, b) => a + b, 0)}), crop methods ${JSON.stringify(data.methods)}, size ${data.size}, zoom ${data.zoom}, dropout masks ${state.dropout}`);
  if (o.command) state.commands = [...(state.commands ?? []), o.command];
  const optimizer = tf.train.adam(o.lr);
  // Resuming restores the weights (BN statistics included) and the epoch; Adam's moments
  // start afresh: tfjs matches them to variables by position, which a reloaded model
  // does not keep.
  const train = [...Array(data.n).keys()].filter((k) => !data.valid[k]);
  const val = [...Array(data.n).keys()].filter((k) => data.valid[k]);
  const t0 = Date.now();
  const threads = (o.threads ?? 1) > 1 ? await GradientThreads.start(model, o.threads!) : undefined;
  try {
    for (let epoch = state.epoch; epoch < o.epochs; epoch++) {
      const lr = o.lr * 0.5 * (1 + Math.cos((Math.PI * epoch) / o.epochs));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const r = rng(o.seed * 1000 + epoch);
      // dropout seeds from their own stream, so shuffling and augmentation are as before
      const dr = rng(o.seed * 7919 + epoch + 1);
      const order = train.slice();
      for (let rep = 1; rep < (o.utkRepeat ?? 1); rep++) for (const k of train) if (isUtk(data.source[k]!)) order.push(k);
      for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
      const steps = Math.floor(order.length / o.batch);
      const resumed = state.partial;
      state.partial = undefined;
      const e0 = Date.now() - (resumed?.seconds ?? 0) * 1000;
      let lossSum = resumed?.lossSum ?? 0;
      // A run resumed mid-epoch keeps the epoch's order; its augmentation and dropout draws
      // continue from streams seeded by the step (the same faces, not the same draws).
      const first = resumed ? Math.min(resumed.step, steps) : 0;
      const aug = resumed ? rng(o.seed * 1000 + epoch + 7919 * first) : r;
      const drop = resumed ? rng(o.seed * 7919 + epoch + 1 + 104729 * first) : dr;
      if (resumed) log.info(`epoch ${epoch + 1}: resuming at step ${first}/${steps}`);
      const bar = progress(`epoch ${epoch + 1}/${o.epochs} lr ${lr.toExponential(2)}`, steps, { loss: '-' });
      let saved = Date.now();
      let stopped = false;
      for (let step = first; step < steps; step++) {
        const idx = order.slice(step * o.batch, (step + 1) * o.batch);
        let dropSeed: number | undefined;
        if (state.dropout === 'per-step') { dropSeed = Math.floor(drop() * 2 ** 30); setDropoutSeeds(model, dropSeed); }
        if (threads) {
          // the shares are cut in batch order, so augmentation draws the same numbers as one thread
          const shares = splitShares(idx, threads.size).map((part) => makeBatch(data, part, aug, state.jitter ?? false));
          try {
            lossSum += await threads.step(model, optimizer, shares, dropSeed);
          } finally {
            shares.forEach(disposeBatch);
          }
        } else {
          const batch = makeBatch(data, idx, aug, state.jitter ?? false);
          const loss = optimizer.minimize(() => {
            const outs = model.apply(batch.x, { training: true }) as tf.Tensor[];
            return multiTaskLoss(outs, batch.labels).total;
          }, true)!;
          lossSum += loss.dataSync()[0]!;
          loss.dispose();
          disposeBatch(batch);
        }
        if (step % 10 === 0 || step === steps - 1) bar.update(step + 1, { loss: (lossSum / (step + 1)).toFixed(4) });
        const over = !!o.maxMinutes && (Date.now() - t0) / 60000 > o.maxMinutes;
        if (step + 1 < steps && (over || Date.now() - saved > (o.checkpointMinutes ?? 20) * 60000)) {
          state.partial = { step: step + 1, lossSum, seconds: (Date.now() - e0) / 1000 };
          await saveModel(model, ckpt);
          fs.writeFileSync(stateFile, JSON.stringify(state, null, 1));
          state.partial = undefined;
          saved = Date.now();
          log.info(`checkpoint in epoch ${epoch + 1} at step ${step + 1}/${steps}`);
          if (over) { stopped = true; break; }
        }
      }
      bar.stop();
      if (stopped) {
        log.info(`stopping after ${o.maxMinutes} minutes within epoch ${epoch + 1}; resume with --resume`);
        break;
      }
      // the epoch's figures on the folded copy (the same outputs), on onnxruntime when installed
      const { model: folded } = await foldBatchNorm(model);
      const metrics = evaluate(folded, data, val, false, {}, await predictAllFast(folded, data, val));
      folded.dispose();
      const seconds = (Date.now() - e0) / 1000;
      state.epoch = epoch + 1;
      state.history.push({ epoch: epoch + 1, loss: lossSum / steps, seconds, lr, utkRepeat: o.utkRepeat ?? 1, val: { ...metrics, celeba: metrics.celeba && { ...metrics.celeba, attributes: {} } } });
      log.info(`epoch ${epoch + 1}: ${JSON.stringify({ loss: +(lossSum / steps).toFixed(4), seconds: Math.round(seconds), celeba: metrics.celeba?.meanAccuracy.toFixed(4), utk: metrics.utkface, smile: metrics.smile?.accuracy.toFixed(4), celebaGender: metrics.celebaGenderAccuracy?.toFixed(4), utk64: metrics.utkface64 && { gender: +metrics.utkface64.genderAccuracy.toFixed(4), mae: +metrics.utkface64.ageMAE.toFixed(3) }, celebaGenderCrops: metrics.celebaGender?.accuracy.toFixed(4) })}`);
      await saveModel(model, ckpt);
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 1));
      if (o.maxMinutes && (Date.now() - t0) / 60000 > o.maxMinutes && epoch + 1 < o.epochs) {
        log.info(`stopping after ${o.maxMinutes} minutes; resume with --resume`);
        break;
      }
    }
  } finally {
    await threads?.close();
  }
  if (state.epoch < o.epochs) throw new FacestreamError('FS_ERR_USAGE', `training paused at epoch ${state.epoch}/${o.epochs}; run again with --resume`);
  return { model, state, data };
}
