import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../lab/runtime.ts';
import { foldBatchNorm } from './fold.ts';
import { buildReferenceNet, convUnit, randomizeBatchNorm } from '../../lab/models/reference.ts';
import { loadModel, saveModel } from './io.ts';
import { predictBatch, type Crop } from './batch.ts';
import { randomArray } from '../../lab/gradcheck.ts';
import { FacestreamError } from '../errors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-fold-'));
beforeAll(async () => { await initRuntime({ backend: 'wasm', quiet: true }); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxDiff(a: tf.Tensor | tf.Tensor[], b: tf.Tensor | tf.Tensor[]): number {
  const la = Array.isArray(a) ? a : [a];
  const lb = Array.isArray(b) ? b : [b];
  return Math.max(...la.map((t, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, lb[i]!))).dataSync()[0]!)));
}

/** A trunk with a residual add and two heads, like the attribute and TRGAN models. */
function multiHeadResidual(): tf.LayersModel {
  const input = tf.input({ shape: [24, 24, 3] });
  const a = convUnit(input, 8, 'a');
  const b = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'b_conv' }).apply(a) as tf.SymbolicTensor;
  const bbn = tf.layers.batchNormalization({ name: 'b_bn' }).apply(b) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'res_add' }).apply([a, bbn]) as tf.SymbolicTensor;
  const act = tf.layers.reLU({ name: 'res_relu' }).apply(sum) as tf.SymbolicTensor;
  const pool = tf.layers.maxPooling2d({ poolSize: 2 }).apply(act) as tf.SymbolicTensor;
  const heads = ['gender', 'smile'].map((name) => {
    const h = convUnit(pool, 6, `${name}_h`, { strides: 2 });
    const g = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const d = tf.layers.dense({ units: 10, name: `${name}_fc` }).apply(g) as tf.SymbolicTensor;
    const dbn = tf.layers.batchNormalization({ name: `${name}_fcbn` }).apply(d) as tf.SymbolicTensor;
    const r = tf.layers.activation({ activation: 'relu' }).apply(dbn) as tf.SymbolicTensor;
    return tf.layers.dense({ units: 3, activation: 'softmax', name }).apply(r) as tf.SymbolicTensor;
  });
  return tf.model({ inputs: input, outputs: heads });
}

describe('BatchNorm folding', () => {
  it('folded reference net equals the unfolded one in inference mode, one fused op per unit', async () => {
    const model = buildReferenceNet();
    randomizeBatchNorm(model);
    const { model: folded, report } = await foldBatchNorm(model);
    expect(Object.keys(report.merged)).toHaveLength(5);
    expect(folded.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(false);
    const x = tf.tensor4d(randomArray(8 * 64 * 64 * 3, 1), [8, 64, 64, 3]).add(1).div(2);
    expect(maxDiff(model.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor)).toBeLessThanOrEqual(1e-4);
    x.dispose();
  });

  it('handles residual adds and several heads, and keeps what it cannot fold', async () => {
    const model = multiHeadResidual();
    randomizeBatchNorm(model, 11);
    const { model: folded, report } = await foldBatchNorm(model);
    expect(report.merged.b_conv).toEqual(['b_bn']); // relu follows the add, not the BN
    expect(report.merged.gender_fc).toHaveLength(2);
    const x = tf.tensor4d(randomArray(4 * 24 * 24 * 3, 2), [4, 24, 24, 3]);
    expect(maxDiff(model.predict(x) as tf.Tensor[], folded.predict(x) as tf.Tensor[])).toBeLessThanOrEqual(1e-4);
    x.dispose();
  });

  it('saves and loads in tfjs format with the same outputs; predictBatch leaks nothing', async () => {
    const model = buildReferenceNet({ size: 32 });
    randomizeBatchNorm(model, 5);
    const { model: folded } = await foldBatchNorm(model);
    await saveModel(folded, tmp);
    expect(fs.existsSync(path.join(tmp, 'model.json'))).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'weights.bin'))).toBe(true);
    const loaded = await loadModel(tmp, [32, 32, 3]);
    const crops: Crop[] = [0, 1, 2].map((i) => ({
      width: 32, height: 32, data: Uint8Array.from(randomArray(32 * 32 * 3, 40 + i), (v) => Math.round((v + 1) * 127)),
    }));
    predictBatch(loaded, crops); // warm-up
    const before = tf.memory().numTensors;
    const a = predictBatch(folded, crops);
    const b = predictBatch(loaded, crops);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.attributes).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 40; j++) expect(Math.abs(a.attributes![i]![j]! - b.attributes![i]![j]!)).toBeLessThanOrEqual(1e-6);
    }
  });

  it('refuses a model file of the wrong shape with a clear error', async () => {
    await expect(loadModel(tmp, [64, 64, 3])).rejects.toThrow(/input shape \[32,32,3\] does not match the expected \[64,64,3\]/);
    const truncated = path.join(tmp, 'bad');
    fs.mkdirSync(truncated);
    fs.copyFileSync(path.join(tmp, 'model.json'), path.join(truncated, 'model.json'));
    fs.writeFileSync(path.join(truncated, 'weights.bin'), Buffer.alloc(100));
    await expect(loadModel(truncated)).rejects.toBeInstanceOf(FacestreamError);
    await expect(loadModel(truncated)).rejects.toThrow(/truncated or belong to another model/);
  });
});
