import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../../lab/runtime.ts';
import { foldBatchNorm } from '../fold.ts';
import { saveModel } from '../io.ts';
import { buildReferenceNet, randomizeBatchNorm } from '../../../lab/models/reference.ts';
import { buildAttributeNet, setDropoutSeeds } from '../../../lab/models/attributes-net.ts';
import { loadAttributeModel, readInferenceSettings, resizeCrop } from './model.ts';
import { byAgeClass, evaluate, jitterCrop, multiTaskLoss, makeBatch, predictAll, predictAllFast, type AgeGenderRow, type LabelledSet } from '../../../lab/train/attributes.ts';
import { FacestreamError } from '../../errors.ts';
import { GradientThreads, shareGradients, splitShares, trainableVariables } from '../../../lab/train/parallel.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-attr-'));
beforeAll(async () => { await initRuntime({ backend: 'wasm', quiet: true }); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tinySet(): LabelledSet {
  const n = 6, size = 64;
  const s: LabelledSet = {
    crops: Uint8Array.from({ length: n * size * size * 3 }, (_, i) => (i * 7) % 256), size, zoom: 1, n,
    source: Uint8Array.from([0, 0, 1, 1, 2, 2]), celeba: new Uint8Array(n * 40).fill(1),
    gender: Int8Array.from([0, 1, 1, 0, -1, -1]), age: Float32Array.from([NaN, NaN, 30, 70, NaN, NaN]),
    smile: Int8Array.from([1, 0, -1, -1, 1, 0]), valid: new Uint8Array(n), calib: new Uint8Array(n), method: new Uint8Array(n), files: [], methods: {},
  };
  return s;
}

describe('attribute network and model', () => {
  it('masked losses: a head only learns from the samples its dataset labels', () => {
    const model = buildAttributeNet({ seed: 3 });
    const s = tinySet();
    const b = makeBatch(s, [0, 1, 2, 3, 4, 5]);
    const outs = model.apply(b.x, { training: false }) as tf.Tensor[];
    const { parts } = multiTaskLoss(outs, b.labels);
    // change the age of the CelebA and SMILE samples' (unlabelled) rows: the loss must not move
    const l2 = { ...b.labels, age: tf.tensor2d([[0.9], [0.9], [0.3], [0.7], [0.9], [0.9]]) };
    const { parts: parts2 } = multiTaskLoss(outs, l2);
    expect(parts2.age!.dataSync()[0]).toBeCloseTo(parts.age!.dataSync()[0]!, 6);
    const l3 = { ...b.labels, age: tf.tensor2d([[0.3], [0.3], [0.9], [0.1], [0.3], [0.3]]) };
    expect(multiTaskLoss(outs, l3).parts.age!.dataSync()[0]).not.toBeCloseTo(parts.age!.dataSync()[0]!, 3);
    // a batch with no UTKFace sample has zero age loss, not NaN
    const b2 = makeBatch(s, [0, 1, 4, 5]);
    const outs2 = model.apply(b2.x) as tf.Tensor[];
    expect(multiTaskLoss(outs2, b2.labels).parts.age!.dataSync()[0]).toBe(0);
    tf.dispose([b.x, b2.x, ...outs, ...outs2, ...Object.values(b.labels), ...Object.values(b2.labels)]);
    model.dispose();
  });

  it('a teacher\'s probabilities are the attribute targets of faces without attribute labels, and only of those', () => {
    const s = tinySet();
    s.source[4] = 4; // a CelebA gender crop
    s.celebaSoft = new Float32Array(s.n * 40).fill(NaN);
    s.celebaSoft.fill(0.25, 4 * 40, 5 * 40);
    s.celebaSoft.fill(0.75, 0, 40); // a CelebA face keeps its own labels
    const b = makeBatch(s, [0, 2, 4, 5]);
    expect(Array.from(b.labels.celebaMask!.dataSync())).toEqual([1, 0, 1, 0]);
    const t = b.labels.celeba!.arraySync() as number[][];
    expect(t[0]![0]).toBe(1);
    expect(t[2]!.every((v) => v === 0.25)).toBe(true);
    expect(t[1]!.every((v) => v === 0)).toBe(true);
    tf.dispose([b.x, ...Object.values(b.labels)]);
  });

  it('a training step and a folded predict leave no tensor behind', async () => {
    const model = buildAttributeNet({ seed: 4 });
    const s = tinySet();
    const opt = tf.train.adam(1e-3);
    const step = () => {
      const b = makeBatch(s, [0, 1, 2, 3, 4, 5]);
      const loss = opt.minimize(() => multiTaskLoss(model.apply(b.x, { training: true }) as tf.Tensor[], b.labels).total, true)!;
      tf.dispose([loss, b.x, ...Object.values(b.labels)]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    const { model: folded } = await foldBatchNorm(model);
    const dir = path.join(tmp, 'attr');
    await saveModel(folded, dir);
    const loaded = await loadAttributeModel(dir);
    const crop = { width: 64, height: 64, data: s.crops.subarray(0, 64 * 64 * 3) };
    await loaded.predict([crop]);
    const n0 = tf.memory().numTensors;
    const [a] = await loaded.predict([crop, crop]);
    expect(tf.memory().numTensors).toBe(n0);
    expect(['male', 'female']).toContain(a!.gender.value);
    expect(a!.gender.confidence).toBeGreaterThanOrEqual(0);
    expect(a!.gender.confidence).toBeLessThanOrEqual(1);
    expect(['S', 'A', 'B', 'C', 'D']).toContain(a!.smiling.grade);
    expect(Object.keys(a!.celeba)).toHaveLength(40);
    loaded.dispose();
  });

  it('breaks UTKFace figures down by true age class, consistent with the totals', () => {
    expect(byAgeClass([
      { age: 1, genderOk: true, ageError: 2 }, { age: 2, genderOk: false, ageError: 4 },
      { age: 40, genderOk: true, ageError: 6 },
    ])).toEqual({
      baby: { n: 2, genderAccuracy: 0.5, ageMAE: 3 }, child: { n: 0, genderAccuracy: null, ageMAE: null },
      youth: { n: 0, genderAccuracy: null, ageMAE: null }, 'middle-aged': { n: 1, genderAccuracy: 1, ageMAE: 6 },
      old: { n: 0, genderAccuracy: null, ageMAE: null },
    });
    const model = buildAttributeNet({ seed: 5 });
    const utkRows: AgeGenderRow[] = [];
    const m = evaluate(model, tinySet(), [0, 1, 2, 3, 4, 5], false, { utkRows });
    expect(utkRows.map((r) => r.age)).toEqual([30, 70]); // the per-face rows behind the totals, for paired comparisons
    expect(utkRows.filter((r) => r.genderOk).length / 2).toBe(m.utkface!.genderAccuracy);
    const [lo, hi] = m.celeba!.meanAccuracyCI95!;
    expect(lo).toBeLessThanOrEqual(m.celeba!.meanAccuracy + 1e-4);
    expect(hi).toBeGreaterThanOrEqual(m.celeba!.meanAccuracy - 1e-4);
    const parts = Object.values(m.utkface!.byAgeClass).filter((p) => p.n > 0);
    expect(parts.map((p) => p.n)).toEqual([1, 1]); // ages 30 (youth) and 70 (old)
    const weighted = parts.reduce((a, p) => a + p.n * p.genderAccuracy!, 0) / m.utkface!.n;
    expect(weighted).toBeCloseTo(m.utkface!.genderAccuracy, 9);
    expect(parts.reduce((a, p) => a + p.n * p.ageMAE!, 0) / m.utkface!.n).toBeCloseTo(m.utkface!.ageMAE, 6);
    model.dispose();
  });

  it('data-parallel training: a step on two threads applies the mean of the two shares\' gradients', async () => {
    const model = buildAttributeNet({ seed: 6 });
    const replica = buildAttributeNet({ seed: 1 }); // the worker's replica: same dropout seeds
    const s = tinySet();
    const shares = splitShares([0, 1, 2, 3, 4, 5], 2).map((part) => makeBatch(s, part));
    expect(shares.map((b) => b.x.shape[0])).toEqual([3, 3]);
    const vars = trainableVariables(model);
    const before = vars.map((v) => v.dataSync().slice());
    trainableVariables(replica).forEach((v, i) => v.assign(vars[i]!));
    const a = shareGradients(model, vars, shares[0]!);
    const b = shareGradients(replica, trainableVariables(replica), shares[1]!);
    const threads = await GradientThreads.start(model, 2);
    try {
      const opt = tf.train.sgd(0.1);
      const loss = await threads.step(model, opt, shares);
      expect(loss).toBeCloseTo((a.loss + b.loss) / 2, 4);
      let worst = 0;
      vars.forEach((v, i) => {
        const now = v.dataSync();
        for (let j = 0; j < now.length; j++) worst = Math.max(worst, Math.abs(now[j]! - (before[i]![j]! - 0.05 * ((a.grads[i]![j] ?? 0) + (b.grads[i]![j] ?? 0)))));
      });
      expect(worst).toBeLessThan(1e-5);
      expect(vars.some((v, i) => v.dataSync().some((x, j) => Math.abs(x - before[i]![j]!) > 1e-6))).toBe(true);
      const n0 = tf.memory().numTensors;
      await threads.step(model, opt, shares);
      expect(tf.memory().numTensors).toBe(n0);
    } finally {
      await threads.close();
    }
    await expect(threads.step(model, tf.train.sgd(0.1), shares)).rejects.toThrow(/closed/);
    // a network the replicas do not match is refused at start, by name
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 })] });
    await expect(GradientThreads.start(other, 2)).rejects.toThrow(/other weight shapes/);
    tf.dispose(shares.flatMap((x) => [x.x, ...Object.values(x.labels)]));
    [model, replica, other].forEach((m) => m.dispose());
  });

  it('dropout: tfjs\' seeded layers repeat their mask; a new seed per step draws a new one', () => {
    const model = buildAttributeNet({ seed: 8 });
    const x = tf.randomUniform([4, 64, 64, 3], 0, 1, 'float32', 5); // distinct faces: BN in training mode zeroes identical ones
    const run = () => tf.tidy(() => Array.from((model.apply(x, { training: true }) as tf.Tensor[])[0]!.dataSync()));
    expect(run()).toEqual(run()); // the defect: the same mask at every call
    expect(setDropoutSeeds(model, 11)).toBe(4); // one per subnet
    const a = run();
    setDropoutSeeds(model, 12);
    const c = run();
    expect(c).not.toEqual(a);
    setDropoutSeeds(model, 11);
    expect(run()).toEqual(a); // reproducible from the seed
    x.dispose();
    model.dispose();
  });

  it('refuses a model of another shape', async () => {
    const other = buildReferenceNet();
    randomizeBatchNorm(other);
    const dir = path.join(tmp, 'other');
    await saveModel(other, dir);
    await expect(loadAttributeModel(dir)).rejects.toThrow(FacestreamError);
    await expect(loadAttributeModel(dir)).rejects.toThrow(/not a facestream attribute model/);
  });

  it('evaluation on onnxruntime (the folded copy, mirror pass included; tfjs where onnxruntime-node is absent) gives the outputs tfjs gives', async () => {
    const net = buildAttributeNet({ seed: 9 });
    randomizeBatchNorm(net, 9);
    const { model: folded } = await foldBatchNorm(net);
    const s = tinySet();
    const idx = [0, 1, 2, 3, 4, 5];
    for (const flip of [false, true]) {
      const a = predictAll(folded, s, idx, 4, flip), b = await predictAllFast(folded, s, idx, 4, flip);
      a.forEach((head, h) => head.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - b[h]![i]![k]!)).toBeLessThan(1e-4))));
    }
    const fast = evaluate(folded, s, idx, false, {}, await predictAllFast(folded, s, idx)), slow = evaluate(folded, s, idx);
    expect(fast.celeba!.meanAccuracy).toBe(slow.celeba!.meanAccuracy);
    expect(fast.utkface!.genderAccuracy).toBe(slow.utkface!.genderAccuracy);
    expect(fast.utkface!.ageMAE).toBeCloseTo(slow.utkface!.ageMAE, 2);
    expect(fast.smile!.accuracy).toBe(slow.smile!.accuracy);
    // the unfolded network (BatchNorm layers) has no ONNX mapping: tfjs answers
    expect(await predictAllFast(net, s, idx)).toEqual(predictAll(net, s, idx));
    [net, folded].forEach((m) => m.dispose());
  });

  it('a model of another input size takes the 64-px crops resampled to its own, and names an input that is not a crop', async () => {
    const net = buildAttributeNet({ seed: 5, inputSize: 80 });
    randomizeBatchNorm(net, 5);
    const { model: folded } = await foldBatchNorm(net);
    const dir = path.join(tmp, 'attr80');
    await saveModel(folded, dir);
    const loaded = await loadAttributeModel(dir);
    const s = tinySet();
    const c64 = { width: 64, height: 64, data: s.crops.subarray(0, 64 * 64 * 3) };
    const c80 = resizeCrop(c64, 80);
    expect([c80.width, c80.height, c80.data.length]).toEqual([80, 80, 80 * 80 * 3]);
    expect(resizeCrop(c80, 80)).toBe(c80);
    const [a] = await loaded.predict([c64]);
    const [b] = await loaded.predict([c80]);
    expect(a!.age).toBeCloseTo(b!.age, 5);
    expect(a!.gender.probs.male).toBeCloseTo(b!.gender.probs.male, 5);
    await loaded.predict([c64, c80]);
    const n0 = tf.memory().numTensors;
    await loaded.predict([c64, c80]);
    expect(tf.memory().numTensors).toBe(n0);
    loaded.dispose();
    [net, folded].forEach((m) => m.dispose());
    expect(() => buildAttributeNet({ inputSize: 72 })).toThrow(/input size 72 is not a multiple of 16/);
  });

  it('reads the crop framing and the mirror pass from the manifest, and names a bad zoom', () => {
    const dir = path.join(tmp, 'settings');
    fs.mkdirSync(dir, { recursive: true });
    expect(readInferenceSettings(dir)).toEqual({ flip: false, zoom: 1, size: 64 }); // no manifest: the defaults
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ input: [80, 80, 3], inference: { flip: true, zoom: 0.8 } }));
    expect(readInferenceSettings(dir)).toEqual({ flip: true, zoom: 0.8, size: 80 });
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ input: [8000, 8000, 3] }));
    expect(() => readInferenceSettings(dir)).toThrow(/manifest\.json: input \[8000,8000,3\] is not a crop size/);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ inference: { zoom: 7 } }));
    expect(() => readInferenceSettings(dir)).toThrow(/manifest\.json: inference\.zoom 7/);
  });

  it('geometric jitter: no warp leaves the crop as it is, a flip mirrors it, a warp moves pixels', () => {
    const size = 8;
    const src = Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 37) % 256);
    const mid = () => 0.5; // the middle of every range: no shift, scale 1, no rotation
    expect(jitterCrop(src, size, mid, false)).toEqual(src);
    const flipped = jitterCrop(src, size, mid, true);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      expect(flipped[(y * size + x) * 3]).toBe(src[(y * size + size - 1 - x) * 3]);
    }
    const shifted = jitterCrop(src, size, () => 1, false); // the largest shift, scale and rotation
    expect(shifted).not.toEqual(src);
  });
});
