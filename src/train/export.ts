/**
 * The last steps of `facestream train attributes`: SA heads by dynamic tags on the
 * phase-1 checkpoint, BatchNorm folding, a check that folding changed nothing, the
 * evaluation on the validation split, and the shipped folder models/attributes/ with a
 * manifest (sha256 of each file, data and terms, figures, the reproducing command).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../log.ts';
import { foldBatchNorm } from '../models/fold.ts';
import { fileManifest, loadModel, saveModel } from '../models/io.ts';
import { SA_TASKS, type SaTask } from '../models/attributes/network.ts';
import { initRuntime, tf } from '../runtime/index.ts';
import { loadLabelled, makeBatch, type DataDirs } from './attributes.ts';
import { evalAttributes } from './evaluate.ts';
import { SA_SETTINGS, trainSaHead, type SaTrainReport } from './sa.ts';
import { withDegradedCopies } from './degrade.ts';

const log = createLogger('export');

export async function finishAttributes(o: { checkpoint: string; data: DataDirs; out: string; seed: number; zoom?: number; command: string; trainInfo?: object }) {
  await initRuntime(); // --finish alone must not fall back to tfjs' default (pure-JS cpu) backend
  const model = await loadModel(o.checkpoint);
  const zoom = o.zoom ?? 1;
  const data = await loadLabelled(o.data, { zoom });
  // The dynamic-tag rounds run on faces the trunk never trained on (the calibration half
  // of the validation split): on its own training faces the trunk is right almost always,
  // so almost nothing would be tagged unrecognizable and nearly every answer graded S.
  const calib = [...Array(data.n).keys()].filter((k) => data.calib[k]);
  const sa: SaTrainReport[] = [];
  const fits = new Map<string, ReturnType<typeof withDegradedCopies>>(); // one copy set per list of factors
  for (const task of Object.keys(SA_TASKS) as SaTask[]) {
    const factors = SA_SETTINGS[task].lowRes;
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
    name: 'facestream-attributes', version: 1, created: new Date().toISOString(), input: [64, 64, 3],
    files,
    folded: { units: Object.keys(foldReport.merged).length, maxAbsDiffVsUnfolded: maxAbsDiff },
    inference: { flip: true, zoom },
    training: {
      command: o.command,
      data: 'CelebA (8,000 aligned faces), UTKFace (7,796 crops, exact duplicates dropped), SMILEsmileD (10,521 LFW faces); validation = 20% by a hash of the file name; the SA heads are fitted on half of it (calibration; gender and smile also on a 16-px and an 8-px copy of each face) and their figures measured on the other half',
      terms: 'CelebA and UTKFace are released for non-commercial research use only; this model carries that restriction.',
      ...o.trainInfo,
      saHeads: sa,
    },
    eval: report,
  };
  fs.writeFileSync(path.join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  model.dispose();
  return { report, manifest };
}
