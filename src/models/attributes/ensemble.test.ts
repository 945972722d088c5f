import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../../lab/runtime.ts';
import { FacestreamError } from '../../errors.ts';
import { foldBatchNorm } from '../fold.ts';
import { loadModel, saveModel } from '../io.ts';
import { randomizeBatchNorm } from '../../../lab/models/reference.ts';
import { mergeMembers, parseCombination } from './ensemble.ts';
import { exportEnsemble } from '../../../lab/train/export.ts';
import { HEADS } from './network.ts';
import { buildAttributeNet } from '../../../lab/models/attributes-net.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-ens-'));
beforeAll(async () => { await initRuntime({ backend: 'wasm', quiet: true }); });
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function member(seed: number, inputSize?: number): Promise<tf.LayersModel> {
  const net = buildAttributeNet({ seed, inputSize });
  randomizeBatchNorm(net, seed);
  const { model } = await foldBatchNorm(net);
  net.dispose();
  return model;
}

/**
 * Saves `merged`, loads it back expecting `input` as its input shape, checks output `head` equals the
 * merged model's own prediction `pm` on `x`, and that predicting leaves no tensor;
 * disposes `pm`, `x` and the loaded model.
 */
async function expectRoundTripWithoutLeak(merged: tf.LayersModel, pm: tf.Tensor[], x: tf.Tensor, name: string, input: number[], head: number) {
  await saveModel(merged, path.join(tmp, name));
  const loaded = await loadModel(path.join(tmp, name), input);
  const pl = loaded.predict(x) as tf.Tensor[];
  expect(Array.from(pl[head]!.dataSync())).toEqual(Array.from(pm[head]!.dataSync()));
  tf.dispose([pm, pl]);
  const n0 = tf.memory().numTensors;
  tf.dispose(loaded.predict(x) as tf.Tensor[]);
  expect(tf.memory().numTensors).toBe(n0);
  x.dispose();
  loaded.dispose();
}

describe('attribute ensemble', () => {
  it('averages the members\' logits head by head, takes one member where told, saves, loads and leaks nothing', async () => {
    const a = await member(3), b = await member(7);
    const merged = await mergeMembers([a, b], { gender: [1], gender_sa: [1] });
    expect(merged.outputNames).toEqual([...HEADS]);
    const x = tf.randomUniform([3, 64, 64, 3], 0, 1, 'float32', 5);
    const pa = a.predict(x) as tf.Tensor[], pb = b.predict(x) as tf.Tensor[], pm = merged.predict(x) as tf.Tensor[];
    const at = (list: tf.Tensor[], model: tf.LayersModel, head: string) => list[model.outputNames.indexOf(head)]!.arraySync() as number[][];
    for (const head of HEADS) {
      const got = at(pm, merged, head);
      const ya = at(pa, a, head), yb = at(pb, b, head);
      const want = head.startsWith('gender') ? yb : ya.map((row, i) => row.map((v, j) => (v + yb[i]![j]!) / 2));
      got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 4)));
      // the two members really differ, so the average is not one of them
      if (!head.startsWith('gender')) expect(Math.abs(ya[0]![0]! - yb[0]![0]!)).toBeGreaterThan(1e-4);
    }
    // member 0's gender subnet is not needed by any output, so it is not in the model
    expect(merged.layers.some((l) => l.name.startsWith('m0_gender'))).toBe(false);
    expect(merged.layers.some((l) => l.name.startsWith('m1_gender'))).toBe(true);
    tf.dispose([pa, pb]);
    await expectRoundTripWithoutLeak(merged, pm, x, 'ens', [64, 64, 3], 2);
    [a, b, merged].forEach((m) => m.dispose());
  });

  it('feeds a member trained on smaller crops the shared input resized in the graph', async () => {
    const a = await member(3, 80), b = await member(7, 64);
    const merged = await mergeMembers([a, b]);
    expect(merged.inputs[0]!.shape).toEqual([null, 80, 80, 3]);
    const x = tf.randomUniform([2, 80, 80, 3], 0, 1, 'float32', 9);
    // tf's resize without corner alignment or half-pixel centres reads output i at i * 80 / 64, as resizeMatrix does
    const small = tf.image.resizeBilinear(x as tf.Tensor4D, [64, 64]);
    const pa = a.predict(x) as tf.Tensor[], pb = b.predict(small) as tf.Tensor[], pm = merged.predict(x) as tf.Tensor[];
    for (const head of HEADS) {
      const ya = pa[a.outputNames.indexOf(head)]!.arraySync() as number[][], yb = pb[b.outputNames.indexOf(head)]!.arraySync() as number[][];
      const got = pm[merged.outputNames.indexOf(head)]!.arraySync() as number[][];
      got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo((ya[i]![j]! + yb[i]![j]!) / 2, 3)));
    }
    tf.dispose([pa, pb, small]);
    await expectRoundTripWithoutLeak(merged, pm, x, 'ens-sizes', [80, 80, 3], 1);
    [a, b, merged].forEach((m) => m.dispose());
  });

  it('names a bad head spec and refuses a lone member', async () => {
    expect(parseCombination('gender=1,age=0+1', 2)).toEqual({ gender: [1], age: [0, 1] });
    expect(() => parseCombination('gendr=1', 2)).toThrow(/gendr=1.*HEAD/);
    expect(() => parseCombination('gender=2', 2)).toThrow(/outside 0-1/);
    const a = await member(3);
    await expect(mergeMembers([a])).rejects.toBeInstanceOf(FacestreamError);
    a.dispose();
  });

  it('train ensemble names a member without a manifest, and members framed differently', async () => {
    const m0 = path.join(tmp, 'm0'), m1 = path.join(tmp, 'm1');
    const a = await member(3);
    await saveModel(a, m0);
    await saveModel(a, m1);
    a.dispose();
    const run = () => exportEnsemble({ members: [m0, m1], data: {}, out: path.join(tmp, 'never'), combine: {}, command: 'test' });
    await expect(run()).rejects.toThrow(/ensemble member .*m0: no readable manifest\.json/);
    fs.writeFileSync(path.join(m0, 'manifest.json'), JSON.stringify({ files: [], inference: { zoom: 1 } }));
    fs.writeFileSync(path.join(m1, 'manifest.json'), JSON.stringify({ files: [], inference: { zoom: 0.8 } }));
    await expect(run()).rejects.toThrow(/different framing \(zoom 1 vs 0\.8\)/);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });
});
