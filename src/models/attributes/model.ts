/**
 * The shipped attribute model at run time: loads the folded network from
 * models/attributes/ (or a given folder), checks its shape, and turns a batch of aligned
 * crops (the model's input size; others are resampled to it) into answers: the 40 CelebA attributes as probabilities, and gender, age
 * class and smile from the SA-softmax heads with confidence and grade; age in years from
 * the regression head.
 */
import type { FaceApiLook } from '../../calculators/smooth.ts';
import fs from 'node:fs';
import path from 'node:path';
import { grade, saSoftmax, type Grade } from '../../calculators/sa.ts';
import { PROJECT_ROOT } from '../../data.ts';
import { FacestreamError } from '../../errors.ts';
import { initRuntime, tf } from '../../runtime/index.ts';
import { AGE_BINS, CELEBA_ATTRIBUTES } from './labels.ts';
import { cropsToArray, outputRows, predictBatch, type BatchOutputs, type Crop } from '../batch.ts';
import { onnxEngine, type OnnxSession } from '../../runtime/onnx.ts';
import { checkOnnxFile } from '../io.ts';
import { loadModel } from '../io.ts';
import { HEADS, INPUT_SIZE, inputSide } from './network.ts';
import { warpAffine } from '../../calculators/warp.ts';

export const DEFAULT_MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'attributes');
/** The `network` gender check (attributes.checks): one network of the same architecture, trained apart on more faces; its gender only is used. */
export const DEFAULT_CHECK_MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'attributes-check');

export interface ClassAnswer<V extends string> {
  value: V;
  probability: number;
  /** 1 - p(unrecognizable) of the SA head. */
  confidence: number;
  grade: Grade;
  probs: Record<V, number>;
}

export interface Attributes {
  gender: ClassAnswer<'male' | 'female'>;
  ageGroup: ClassAnswer<(typeof AGE_BINS)[number]['name']>;
  /** Years, from the regression head. */
  age: number;
  smiling: ClassAnswer<'no' | 'yes'>;
  /** CelebA attribute -> probability present. */
  celeba: Record<string, number>;
  /** Each gender check's answer on the same face (attributes.checks), when it ran on this frame. */
  genderChecks?: Record<string, ClassAnswer<'male' | 'female'>>;
  /** face-api's age and gender on the same face when it looked, with their shares in the track's (attributes.faceApiAgeShare, faceApiGenderShare). */
  faceApi?: FaceApiLook;
}

export interface AttributeModel {
  predict(crops: Crop[]): Promise<Attributes[]>;
  /** 'onnxruntime' when the folder's model.onnx runs on the native engine, else 'tfjs'. */
  readonly engine: 'onnxruntime' | 'tfjs';
  dispose(): void;
}

export function classAnswer<V extends string>(labels: readonly V[], logits: Float32Array): ClassAnswer<V> {
  const r = saSoftmax(logits);
  return {
    value: labels[r.value]!, probability: r.probs[r.value]!, confidence: r.confidence, grade: grade(r.confidence),
    probs: Object.fromEntries(labels.map((l, i) => [l, r.probs[i]!])) as Record<V, number>,
  };
}

/**
 * Inference settings from the model folder's manifest.json: `inference.flip` averages each
 * face's outputs with its mirror image's (measured on the validation split: +0.4 points
 * UTKFace gender, -0.14 years age MAE, +0.1 CelebA mean, at twice the compute);
 * `inference.zoom` is the framing of the crops it was trained on (the alignment
 * template's zoom, src/calculators/similarity.ts), which `align` and `superres` use;
 * `input` its crop size, which `align` cuts by default.
 */
export function readInferenceSettings(dir = DEFAULT_MODEL_DIR): { flip: boolean; zoom: number; size: number } {
  try {
    const file = path.join(dir, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { input?: number[]; inference?: { flip?: boolean; zoom?: number } };
    const zoom = m.inference?.zoom ?? 1;
    if (!(zoom > 0.3 && zoom <= 2)) throw new FacestreamError('FS_ERR_MODEL', `${file}: inference.zoom ${zoom} is not a crop framing (0.3-2)`);
    const size = m.input?.[0] ?? INPUT_SIZE;
    if (!(Number.isInteger(size) && size >= 16 && size <= 512)) throw new FacestreamError('FS_ERR_MODEL', `${file}: input ${JSON.stringify(m.input)} is not a crop size (16-512 px)`);
    return { flip: m.inference?.flip === true, zoom, size };
  } catch (err) {
    if (err instanceof FacestreamError) throw err;
    return { flip: false, zoom: 1, size: INPUT_SIZE };
  }
}

/** A crop resampled to side x side on its own pixel grid (as ensemble.ts's resizeMatrix). */
export function resizeCrop(c: Crop, side: number): Crop {
  if (c.width === side && c.height === side) return c;
  const rgb = c.data instanceof Uint8Array ? c.data : Uint8Array.from(c.data, (v) => Math.round(Math.min(255, Math.max(0, v * 255))));
  return warpAffine({ width: c.width, height: c.height, data: rgb }, [side / c.width, 0, 0, 0, side / c.height, 0], side, side);
}

/** The outputs of an ONNX attribute graph for `crops`; with `flip`, averaged with the mirror images' (one run of twice the batch). */
async function predictOnnx(session: OnnxSession, crops: Crop[], side: number, flip: boolean): Promise<BatchOutputs> {
  const n = crops.length;
  const x = cropsToArray(crops, flip);
  const rows = flip ? 2 * n : n;
  const out = await session.run({ [session.inputNames[0]!]: { data: x, dims: [rows, side, side, 3] } });
  return Object.fromEntries(session.outputNames.map((name) => [name, outputRows(out[name]!.data, n, flip)]));
}

export async function loadAttributeModel(dir = DEFAULT_MODEL_DIR): Promise<AttributeModel> {
  await initRuntime();
  const model = await loadModel(dir);
  let side: number;
  try {
    side = inputSide(model, dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const missing = HEADS.filter((h) => !model.outputNames.includes(h));
  if (missing.length) {
    model.dispose();
    throw new FacestreamError('FS_ERR_MODEL', `${dir}: not a facestream attribute model (outputs ${missing.join(', ')} missing)`);
  }
  const settings = readInferenceSettings(dir);
  // the native engine when the process runs one and the folder has the ONNX graph of these weights
  const engine = await onnxEngine();
  let session: OnnxSession | undefined;
  if (engine && checkOnnxFile(dir)) {
    try {
      session = await engine.load(path.join(dir, 'model.onnx'));
      const absent = HEADS.filter((h) => !session!.outputNames.includes(h));
      if (absent.length) throw new FacestreamError('FS_ERR_MODEL', `${dir}/model.onnx: outputs ${absent.join(', ')} missing`);
    } catch (err) {
      model.dispose();
      await session?.dispose();
      throw err;
    }
    model.dispose(); // the tfjs copy served only to check the folder
  }
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  return {
    engine: session ? 'onnxruntime' : 'tfjs',
    async predict(crops) {
      if (!crops.length) return [];
      // crops cut at another size (the 64-px super-resolved faces) are resampled to the model's
      const sized = crops.map((c) => resizeCrop(c, side));
      const out = session ? await predictOnnx(session, sized, side, settings.flip) : predictBatch(model, sized, { flip: settings.flip });
      return crops.map((_, i) => ({
        gender: classAnswer(['male', 'female'] as const, out.gender_sa![i]!),
        ageGroup: classAnswer(AGE_BINS.map((b) => b.name), out.age5_sa![i]!),
        age: Math.max(0, out.age![i]![0]! * 100),
        smiling: classAnswer(['no', 'yes'] as const, out.smile_sa![i]!),
        celeba: Object.fromEntries(CELEBA_ATTRIBUTES.map((a, j) => [a, sigmoid(out.celeba![i]![j]!)])),
      }));
    },
    dispose: () => { if (session) void session.dispose(); else model.dispose(); },
  };
}
