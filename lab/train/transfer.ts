/**
 * The thesis' transfer experiment (docs/method.md §4, table 4-1), redone on our data: the
 * smiling head trained on the SMILE (LFW) faces alone, and on SMILE plus its
 * super-resolved copies 1:1 (each face area-downscaled x4 and upscaled by TRGAN, which was
 * trained on CelebA); both tested on CelebA `Smiling` (every CelebA face: none is used in
 * training here) and on SMILE's own validation split.
 *
 * Same network family as the attribute model (narrower trunk, only the smiling loss),
 * same seed, same epochs and schedule for both arms.
 */
import path from 'node:path';
import { createLogger } from '../../src/log.ts';
import { buildAttributeNet } from '../models/attributes-net.ts';
import { loadModel } from '../../src/models/io.ts';
import { downscale } from '../models/superres-net.ts';
import { upscaleCrops } from '../../src/operators/superres.ts';
import { hrBatch } from './superres.ts';
import { PROJECT_ROOT } from '../../src/data.ts';
import { progress } from '../../src/progress.ts';
import { initRuntime, tf } from '../runtime.ts';
import { rng } from '../../src/calculators/random.ts';
import { disposeBatch, loadLabelled, makeBatch, multiTaskLoss, predictAll, type LabelledSet } from './attributes.ts';

const log = createLogger('transfer');

export interface TransferRow { train: string; n: number; celebaSmiling: number; smileValidation: number; seconds: number }

/** A copy of `s` restricted to `idx`, with `extra` crops (and their labels) appended. */
function subset(s: LabelledSet, idx: number[], extra?: { crops: Uint8Array; from: number[] }): LabelledSet {
  const per = s.size * s.size * 3;
  const all = [...idx, ...(extra?.from ?? [])];
  const out: LabelledSet = {
    ...s, n: all.length, crops: new Uint8Array(all.length * per), source: new Uint8Array(all.length), celeba: new Uint8Array(all.length * 40),
    gender: new Int8Array(all.length).fill(-1), age: new Float32Array(all.length).fill(NaN), race: undefined, smile: new Int8Array(all.length).fill(-1),
    valid: new Uint8Array(all.length), method: new Uint8Array(all.length), files: [],
  };
  all.forEach((k, i) => {
    const copy = i >= idx.length;
    out.crops.set(copy ? extra!.crops.subarray((i - idx.length) * per, (i - idx.length + 1) * per) : s.crops.subarray(k * per, (k + 1) * per), i * per);
    out.source[i] = s.source[k]!;
    out.smile[i] = s.smile[k]!;
    out.files.push(copy ? `${s.files[k]}#superres` : s.files[k]!);
  });
  return out;
}

/** Super-resolved copies of the crops `idx`: area x4 down, TRGAN x4 up. */
export function superResolvedCopies(generator: tf.LayersModel, s: LabelledSet, idx: number[]): Uint8Array {
  const per = s.size * s.size * 3;
  const out = new Uint8Array(idx.length * per);
  for (let i = 0; i < idx.length; i += 64) {
    const part = idx.slice(i, i + 64);
    const low = tf.tidy(() => tf.round(tf.mul(downscale(hrBatch(s, part), 4), 255)).dataSync());
    const lp = 16 * 16 * 3;
    const crops = part.map((_, j) => ({ width: 16, height: 16, data: Uint8Array.from(low.subarray(j * lp, (j + 1) * lp)) }));
    upscaleCrops(generator, crops).forEach((c, j) => out.set(c.data, (i + j) * per));
  }
  return out;
}

async function trainSmile(set: LabelledSet, epochs: number, seed: number, label: string): Promise<tf.LayersModel> {
  const model = buildAttributeNet({ widths: [16, 32, 48, 64], seed });
  const opt = tf.train.adam(2e-3);
  const order0 = [...Array(set.n).keys()];
  for (let epoch = 0; epoch < epochs; epoch++) {
    (opt as unknown as { learningRate: number }).learningRate = 2e-3 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs));
    const r = rng(seed * 1000 + epoch);
    const order = order0.slice();
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
    let sum = 0;
    const steps = Math.floor(order.length / 64);
    const bar = progress(`${label} epoch ${epoch + 1}/${epochs}`, steps, { loss: '-' });
    for (let step = 0; step < steps; step++) {
      const b = makeBatch(set, order.slice(step * 64, (step + 1) * 64), r);
      const loss = opt.minimize(() => multiTaskLoss(model.apply(b.x, { training: true }) as tf.Tensor[], b.labels).parts.smile, true)!;
      sum += loss.dataSync()[0]!;
      loss.dispose();
      disposeBatch(b);
      if (step % 20 === 0 || step === steps - 1) bar.update(step + 1, { loss: (sum / (step + 1)).toFixed(4) });
    }
    bar.stop();
  }
  opt.dispose();
  return model;
}

function smileAccuracy(model: tf.LayersModel, s: LabelledSet, idx: number[]): number {
  const out = predictAll(model, s, idx)[model.outputNames.indexOf('smile')]!;
  let ok = 0;
  idx.forEach((k, j) => { ok += ((out[j]![1]! > out[j]![0]! ? 1 : 0) === s.smile[k] ? 1 : 0); });
  return ok / Math.max(1, idx.length);
}

export async function transferExperiment(o: { celeba: string; smile: string; epochs?: number; seed?: number; generator?: string }) {
  await initRuntime();
  const epochs = o.epochs ?? 3;
  const seed = o.seed ?? 1;
  const data = await loadLabelled({ celeba: o.celeba, smile: o.smile });
  const generator = await loadModel(o.generator ?? path.join(PROJECT_ROOT, 'models', 'superres', 'x4'), [16, 16, 3]);
  const smileTrain = [...Array(data.n).keys()].filter((k) => data.source[k] === 2 && !data.valid[k]);
  const smileVal = [...Array(data.n).keys()].filter((k) => data.source[k] === 2 && data.valid[k]);
  const celeba = [...Array(data.n).keys()].filter((k) => data.source[k] === 0);
  log.info(`SMILE train ${smileTrain.length}, SMILE validation ${smileVal.length}, CelebA test ${celeba.length}`);
  const copies = superResolvedCopies(generator, data, smileTrain);
  const arms: Array<[string, LabelledSet]> = [
    ['SMILE (LFW)', subset(data, smileTrain)],
    ['SMILE + its super-resolved copies, 1:1', subset(data, smileTrain, { crops: copies, from: smileTrain })],
  ];
  const rows: TransferRow[] = [];
  for (const [name, set] of arms) {
    const t0 = Date.now();
    const model = await trainSmile(set, epochs, seed, name);
    rows.push({
      train: name, n: set.n,
      celebaSmiling: +smileAccuracy(model, data, celeba).toFixed(4),
      smileValidation: +smileAccuracy(model, data, smileVal).toFixed(4),
      seconds: Math.round((Date.now() - t0) / 1000),
    });
    log.info(`${name}: ${JSON.stringify(rows.at(-1))}`);
    model.dispose();
  }
  generator.dispose();
  return { epochs, seed, rows };
}
