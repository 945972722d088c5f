/**
 * `facestream train superres`: TRGAN on aligned CelebA crops (the same detector and
 * alignment as the pipeline, cached by src/train/crops.ts), low-resolution inputs made by
 * area downscaling (what a distant camera's few pixels average over).
 *
 * Loss (docs/method.md §4): L1 pixel loss to the high-resolution face + lambda x the
 * Wasserstein adversarial term -critic(G(low)). The critic is trained with weight
 * clipping (WGAN), not the gradient penalty: the penalty needs a second-order gradient
 * through the critic every step, which on two CPU cores would cost more than the generator
 * step itself; clipping costs nothing and the adversarial term is a small correction on
 * top of the pixel loss here. The first `pixelOnlyFraction` of the steps train the pixel
 * loss alone, so that the critic starts against a generator that already produces faces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/log.ts';
import { rng } from '../../src/calculators/random.ts';
import { foldBatchNorm } from '../../src/models/fold.ts';
import { fileManifest, loadModel, saveModel } from '../../src/models/io.ts';
import { exportOnnxFolder } from '../onnx/export.ts';
import { buildCritic, buildGenerator, downscale } from '../models/superres-net.ts';
import { progress } from '../../src/progress.ts';
import { initRuntime, tf } from '../runtime.ts';
import { loadLabelled, type LabelledSet } from './attributes.ts';

const log = createLogger('train');

export interface SuperresTrainOptions {
  celeba: string;
  out: string;
  scale: 4 | 8;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  resume: boolean;
  maxMinutes?: number;
  /** Weight of the adversarial term. */
  adversarial: number;
  pixelOnlyFraction: number;
  checkpointEvery: number;
}

interface SrState { step: number; seed: number; scale: number; seconds: number; log: Array<{ step: number; pixel: number; critic?: number }> }

/** High-resolution faces [b, 64, 64, 3] in [0, 1] from the crop set; `flip` mirrors half. */
export function hrBatch(s: LabelledSet, idx: number[], r?: () => number): tf.Tensor4D {
  const size = s.size;
  const per = size * size * 3;
  const x = new Float32Array(idx.length * per);
  idx.forEach((k, i) => {
    const src = s.crops.subarray(k * per, (k + 1) * per);
    const flip = r ? r() < 0.5 : false;
    for (let y = 0; y < size; y++) {
      for (let xx = 0; xx < size; xx++) {
        const from = (y * size + (flip ? size - 1 - xx : xx)) * 3;
        const to = i * per + (y * size + xx) * 3;
        x[to] = src[from]! / 255; x[to + 1] = src[from + 1]! / 255; x[to + 2] = src[from + 2]! / 255;
      }
    }
  });
  return tf.tensor4d(x, [idx.length, size, size, 3]);
}

export function checkpointDir(out: string, scale: number): string {
  return path.join(out, `x${scale}`, 'checkpoint');
}

export async function trainSuperres(o: SuperresTrainOptions): Promise<{ generator: tf.LayersModel; state: SrState; data: LabelledSet }> {
  await initRuntime();
  log.info('settings', { ...o });
  const data = await loadLabelled({ celeba: o.celeba });
  const train = [...Array(data.n).keys()].filter((k) => !data.valid[k]);
  log.info(`faces: ${data.n} (training ${train.length})`);
  const ckpt = checkpointDir(o.out, o.scale);
  const stateFile = path.join(ckpt, 'state.json');
  let generator: tf.LayersModel;
  let critic: tf.LayersModel;
  let state: SrState = { step: 0, seed: o.seed, scale: o.scale, seconds: 0, log: [] };
  if (o.resume && fs.existsSync(stateFile)) {
    generator = await loadModel(path.join(ckpt, 'generator'));
    critic = await loadModel(path.join(ckpt, 'critic'));
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as SrState;
    log.info(`resumed from ${ckpt} at step ${state.step}`);
  } else {
    generator = buildGenerator({ scale: o.scale, seed: o.seed });
    critic = buildCritic(o.seed + 100);
  }
  const gOpt = tf.train.adam(o.lr);
  const cOpt = tf.train.rmsprop(5e-5);
  const clip = 0.01;
  const criticVars = critic.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const genVars = generator.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const advFrom = Math.round(o.steps * o.pixelOnlyFraction);
  const t0 = Date.now();
  const r = rng(o.seed * 7919 + state.step);
  let pixelSum = 0, criticSum = 0, count = 0;
  const before = state.seconds;
  const startStep = state.step;
  const save = async () => {
    state.seconds = Math.round(before + (Date.now() - t0) / 1000);
    await saveModel(generator, path.join(ckpt, 'generator'));
    await saveModel(critic, path.join(ckpt, 'critic'));
    fs.writeFileSync(stateFile, JSON.stringify(state, null, 1));
  };
  const bar = progress(`x${o.scale} train`, o.steps, { loss: '-', W: '-' });
  bar.update(state.step);
  for (; state.step < o.steps; ) {
    const idx = Array.from({ length: o.batch }, () => train[Math.floor(r() * train.length)]!);
    const hr = hrBatch(data, idx, r);
    const low = downscale(hr, o.scale);
    // Cosine decay of the generator's learning rate over the whole run.
    (gOpt as unknown as { learningRate: number }).learningRate = o.lr * 0.5 * (1 + Math.cos((Math.PI * state.step) / o.steps));
    const adv = state.step >= advFrom && o.adversarial > 0;
    if (adv) {
      const cl = cOpt.minimize(() => {
        const fake = generator.apply(low, { training: false }) as tf.Tensor;
        return tf.sub(tf.mean(critic.apply(fake) as tf.Tensor), tf.mean(critic.apply(hr) as tf.Tensor)) as tf.Scalar;
      }, true, criticVars)!;
      criticSum += -cl.dataSync()[0]!;
      cl.dispose();
      tf.tidy(() => { for (const v of criticVars) v.assign(tf.clipByValue(v, -clip, clip)); });
    }
    const pl = gOpt.minimize(() => {
      const fake = generator.apply(low, { training: true }) as tf.Tensor;
      const pixel = tf.mean(tf.abs(tf.sub(fake, hr))) as tf.Scalar;
      return adv ? tf.add(pixel, tf.mul(-o.adversarial, tf.mean(critic.apply(fake) as tf.Tensor))) as tf.Scalar : pixel;
    }, true, genVars)!;
    pixelSum += pl.dataSync()[0]!;
    count++;
    tf.dispose([pl, hr, low]);
    state.step++;
    const el = (Date.now() - t0) / 1000;
    if (state.step % 10 === 0 || state.step === o.steps) {
      bar.update(state.step, { loss: (pixelSum / count).toFixed(4), W: adv ? (criticSum / count).toFixed(4) : '-' });
    }
    if (state.step % o.checkpointEvery === 0 || state.step === o.steps) {
      state.log.push({ step: state.step, pixel: pixelSum / count, ...(adv ? { critic: criticSum / count } : {}) });
      pixelSum = 0; criticSum = 0; count = 0;
      await save();
      if (o.maxMinutes && el / 60 > o.maxMinutes && state.step < o.steps) {
        bar.stop();
        log.info(`stopping after ${o.maxMinutes} minutes at step ${state.step}; resume with --resume`);
        break;
      }
    }
  }
  bar.stop();
  critic.dispose();
  gOpt.dispose();
  cOpt.dispose();
  return { generator, state, data };
}

/**
 * Folds the generator's BN (once), saves it, evaluates the folded generator with
 * `evaluate`, and writes the manifest with the figures.
 */
export async function exportSuperres(o: {
  generator: tf.LayersModel; out: string; scale: number; command: string; training: object; data: LabelledSet;
  evaluate?: (folded: tf.LayersModel) => Promise<object>;
}) {
  const { model: folded, report } = await foldBatchNorm(o.generator);
  const val = [...Array(o.data.n).keys()].filter((k) => o.data.valid[k]).slice(0, 64);
  const maxAbsDiff = tf.tidy(() => {
    const low = downscale(hrBatch(o.data, val), o.scale);
    return tf.max(tf.abs(tf.sub(o.generator.predict(low) as tf.Tensor, folded.predict(low) as tf.Tensor))).dataSync()[0]!;
  });
  fs.mkdirSync(o.out, { recursive: true });
  await saveModel(folded, o.out);
  const evaluation = await o.evaluate?.(folded);
  const manifest = {
    name: `facestream-trgan-x${o.scale}`, version: 1, created: new Date().toISOString(),
    input: [64 / o.scale, 64 / o.scale, 3], output: [64, 64, 3], range: '[0, 1] RGB, aligned faces',
    files: fileManifest(o.out),
    folded: { units: Object.keys(report.merged).length, maxAbsDiffVsUnfolded: maxAbsDiff },
    training: {
      command: o.command,
      data: 'CelebA (8,000 aligned faces, the same detector and alignment as the pipeline); validation = 20% by a hash of the file name; low resolution = area downscaling',
      terms: 'CelebA is released for non-commercial research use only; this model carries that restriction.',
      ...o.training,
    },
    eval: evaluation,
  };
  fs.writeFileSync(path.join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  await exportOnnxFolder(o.out); // model.onnx for the native engine
  return { folded, manifest };
}
