/**
 * The last steps of `facestream train attributes`: SA heads by dynamic tags on the
 * phase-1 checkpoint, BatchNorm folding, a check that folding changed nothing, the
 * evaluation on the validation split, and the shipped folder models/attributes/ with a
 * manifest (sha256 of each file, data and terms, figures, the reproducing command).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/log.ts';
import { foldBatchNorm } from '../../src/models/fold.ts';
import { fileManifest, loadModel, saveModel } from '../../src/models/io.ts';
import { FacestreamError } from '../../src/errors.ts';
import { mergeMembers, type Combination } from '../../src/models/attributes/ensemble.ts';
import { HEADS, inputSide, SA_TASKS, type SaTask } from '../../src/models/attributes/network.ts';
import { initRuntime, tf } from '../runtime.ts';
import { loadLabelled, makeBatch, type DataDirs, type LabelledSet } from './attributes.ts';
import { evalAttributes, type EvalReport } from './evaluate.ts';
import { lowResFactors, SA_SETTINGS, trainSaHead, type SaTrainReport } from './sa.ts';
import { withDegradedCopies } from './degrade.ts';
import { exportOnnxFolder } from '../onnx/export.ts';

/** Crops `idx` of `s` as one NHWC float batch (the ONNX check's input). */
function batchOf(s: LabelledSet, idx: number[]): Float32Array {
  return tf.tidy(() => { const b = makeBatch(s, idx); const x = Float32Array.from(b.x.dataSync()); return x; });
}

const log = createLogger('export');

/** What every attribute manifest says of the model's input, data and terms. */

/** The data line of a manifest, from the faces actually loaded (each source's count). */
export function describeData(s: LabelledSet): string {
  const n = (source: number) => s.source.reduce((a, v) => a + (v === source ? 1 : 0), 0);
  const f = (v: number) => v.toLocaleString('en-US');
  const parts = [
    n(0) && `CelebA (${f(n(0))} aligned faces, 40 attributes)`,
    n(1) && `UTKFace (${f(n(1))} crops, exact duplicates dropped)`,
    n(3) && `UTKFace 64x64 (${f(n(3))} more faces of the same set, exact duplicates dropped)`,
    n(4) && `CelebA gender crops (${f(n(4))} faces of CelebA ids 063429-202599, labelled male/female only)`,
    n(2) && `SMILEsmileD (${f(n(2))} LFW faces)`,
  ].filter(Boolean);
  return `${parts.join(', ')}; validation = 20% by a hash of the file name`;
}
const SA_FIT = 'half of it (calibration; gender and smile also on a 16-px and an 8-px copy of each face)';
const TERMS = 'CelebA and UTKFace are released for non-commercial research use only; this model carries that restriction.';
const manifestHead = (side: number) => ({ name: 'facestream-attributes', version: 1, created: new Date().toISOString(), input: [side, side, 3] });

export async function finishAttributes(o: { checkpoint: string; data: DataDirs; out: string; seed: number; zoom?: number; command: string; trainInfo?: object }) {
  await initRuntime(); // --finish alone must not fall back to tfjs' default (pure-JS cpu) backend
  const model = await loadModel(o.checkpoint);
  const side = inputSide(model, o.checkpoint);
  const zoom = o.zoom ?? 1;
  const data = await loadLabelled(o.data, { zoom, size: side });
  // The dynamic-tag rounds run on faces the trunk never trained on (the calibration half
  // of the validation split): on its own training faces the trunk is right almost always,
  // so almost nothing would be tagged unrecognizable and nearly every answer graded S.
  const calib = [...Array(data.n).keys()].filter((k) => data.calib[k]);
  const sa: SaTrainReport[] = [];
  const fits = new Map<string, ReturnType<typeof withDegradedCopies>>(); // one copy set per list of factors
  for (const task of Object.keys(SA_TASKS) as SaTask[]) {
    const factors = lowResFactors(data.size, SA_SETTINGS[task].lowResPx);
    const key = factors.join(',');
    if (!fits.has(key)) fits.set(key, factors.length ? withDegradedCopies(data, calib, factors) : { set: data, idx: calib });
    const fit = fits.get(key)!;
    sa.push(await trainSaHead(model, task, fit.set, fit.idx, { seed: o.seed }));
  }
  const { model: folded, report: foldReport } = await foldBatchNorm(model);
  const val = [...Array(data.n).keys()].filter((k) => data.valid[k]).slice(0, 256);
  const maxAbsDiff = tf.tidy(() => {
    const b = makeBatch(data, val);
    const a = model.predict(b.x) as tf.Tensor[];
    const f = folded.predict(b.x) as tf.Tensor[];
    return Math.max(...a.map((t, i) => tf.max(tf.abs(tf.sub(t, f[i]!))).dataSync()[0]!));
  });
  log.info(`folded ${Object.keys(foldReport.merged).length} units; max output difference ${maxAbsDiff}`);
  // The pipeline averages each face with its mirror image; the figures are measured so.
  const report = await evalAttributes({ model: folded, data: o.data, split: 'validation', loaded: data, flip: true });
  fs.mkdirSync(o.out, { recursive: true });
  await saveModel(folded, o.out);
  const files = fileManifest(o.out);
  const manifest = {
    ...manifestHead(side),
    files,
    folded: { units: Object.keys(foldReport.merged).length, maxAbsDiffVsUnfolded: maxAbsDiff },
    inference: { flip: true, zoom },
    training: {
      command: o.command,
      data: `${describeData(data)}; the SA heads are fitted on ${SA_FIT} and their figures measured on the other half`,
      terms: TERMS,
      ...o.trainInfo,
      saHeads: sa,
    },
    eval: report,
  };
  fs.writeFileSync(path.join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  await exportOnnxFolder(o.out, [batchOf(data, val.slice(0, 32))]); // model.onnx for the native engine, checked on real crops
  model.dispose();
  return { report, manifest };
}

const home = (t: string) => t.split(os.homedir()).join('~');

/** A member's training command, its last step exporting where the ensemble reads it. */
function memberCommand(command: string | undefined, dir: string): string {
  return `${(command ?? 'facestream train attributes ?').replace(/\s--export\s+\S+/g, '')} --export ${dir}`;
}

/**
 * `facestream train ensemble`: finished attribute models (each from `train attributes
 * --finish --export DIR`) merged into one (src/models/attributes/ensemble.ts), evaluated
 * like a single model, and written with a manifest that names every member's recipe.
 */
export async function exportEnsemble(o: { members: string[]; data: DataDirs; out: string; combine: Combination; command: string }) {
  await initRuntime();
  const manifests = o.members.map((dir) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { inference?: { zoom?: number; flip?: boolean }; training?: { command?: string; epochs?: number }; files: unknown; folded?: { units: number; maxAbsDiffVsUnfolded: number }; eval?: EvalReport };
    } catch (err) {
      throw new FacestreamError('FS_ERR_MODEL', `ensemble member ${dir}: no readable manifest.json (${(err as Error).message}); export it with train attributes --finish --export ${dir}`);
    }
  });
  const zooms = [...new Set(manifests.map((m) => m.inference?.zoom ?? 1))];
  if (zooms.length > 1) throw new FacestreamError('FS_ERR_MODEL', `ensemble members were trained on crops of different framing (zoom ${zooms.join(' vs ')}); they cannot share one crop`);
  const models = await Promise.all(o.members.map((dir) => loadModel(dir)));
  const merged = await mergeMembers(models, o.combine);
  const side = inputSide(merged);
  const recipes = manifests.map((m, i) => home(memberCommand(m.training?.command, o.members[i]!)));
  const data = await loadLabelled(o.data, { zoom: zooms[0], size: side });
  const report = await evalAttributes({ model: merged, data: o.data, split: 'validation', loaded: data, flip: true });
  fs.mkdirSync(o.out, { recursive: true });
  await saveModel(merged, o.out);
  const manifest = {
    ...manifestHead(side),
    files: fileManifest(o.out),
    folded: {
      units: manifests.reduce((a, m) => a + (m.folded?.units ?? 0), 0),
      maxAbsDiffVsUnfolded: Math.max(...manifests.map((m) => m.folded?.maxAbsDiffVsUnfolded ?? 0)),
    },
    inference: { flip: true, zoom: zooms[0] },
    ensemble: {
      heads: Object.fromEntries(HEADS.map((h) => [h, o.combine[h] ?? o.members.map((_, i) => i)])),
      members: manifests.map((m, i) => ({
        index: i, input: models[i]!.inputs[0]!.shape.slice(1), files: m.files, command: recipes[i], epochs: m.training?.epochs,
        eval: m.eval && { celeba: m.eval.celeba?.meanAccuracy, utkGender: m.eval.utkface?.genderAccuracy, utkAgeMAE: m.eval.utkface?.ageMAE, smile: m.eval.smile?.accuracy },
      })),
    },
    training: {
      command: [...recipes.map((r) => `(${r})`), home(o.command)].join(' && '),
      data: `${describeData(data)}; each member's SA heads are fitted on ${SA_FIT} and the figures measured on the other half`,
      terms: TERMS,
    },
    eval: report,
  };
  fs.writeFileSync(path.join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  await exportOnnxFolder(o.out, [batchOf(data, [...Array(data.n).keys()].filter((k) => data.valid[k]).slice(0, 32))]);
  models.forEach((m) => m.dispose());
  merged.dispose();
  return { report, manifest };
}
