/**
 * The ONNX export against tfjs on real faces: the shipped attribute model and both TRGAN
 * generators give the same outputs within 1e-4 on onnxruntime as on tfjs, the shipped
 * model.onnx files are the graphs of the shipped weights, and the product runs them (or,
 * when they do not match, the tfjs weights).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../runtime.ts';
import { loadModel, checkOnnxFile } from '../../src/models/io.ts';
import { loadAttributeModel } from '../../src/models/attributes/model.ts';
import { resetEngineChoice } from '../../src/runtime/onnx.ts';
import { PROJECT_ROOT, dataDir } from '../../src/data.ts';
import { loadDetector } from '../../src/models/faces/detector.ts';
import { cropOne } from '../train/crops.ts';
import { compareWithTfjs, exportOnnxFolder, layersToOnnx } from './export.ts';
import { encodeModel } from './proto.ts';
import '../../src/models/superres/network.ts';
import { onnxruntimeInstalled } from '../../test/helpers.ts';

const models = path.join(PROJECT_ROOT, 'models');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-onnx-'));
let faces: Uint8Array[] = [];

beforeAll(async () => {
  await initRuntime({ backend: 'wasm', quiet: true });
  // eight real CelebA and UTKFace faces, aligned by the live path's detector and landmarks
  const detector = await loadDetector({ kind: 'tiny', inputSize: 160, minScore: 0.3 });
  const files = [
    ...fs.readdirSync(path.join(dataDir(), 'celeba', 'images')).sort().slice(0, 4).map((f) => path.join(dataDir(), 'celeba', 'images', f)),
    ...fs.readdirSync(path.join(dataDir(), 'utkface', 'images')).sort().slice(0, 4).map((f) => path.join(dataDir(), 'utkface', 'images', f)),
  ];
  for (const f of files) faces.push((await cropOne(detector, f, 64)).crop.data);
}, 120_000);

afterEach(() => {
  delete process.env.FACESTREAM_ENGINE;
  resetEngineChoice();
});

/** The faces as one NHWC float batch at `side` px (area-downscaled for the generators' inputs). */
function batch(side: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.div(tf.tensor4d(Float32Array.from(faces.flatMap((f) => [...f])), [faces.length, 64, 64, 3]), 255);
    const y = side === 64 ? x : tf.avgPool(x as tf.Tensor4D, 64 / side, 64 / side, 'valid');
    return Float32Array.from(y.dataSync());
  });
}

describe('ONNX export (lab/onnx/export.ts)', () => {
  it.skipIf(!onnxruntimeInstalled)('the attribute model and TRGAN x4/x8 give tfjs\' outputs within 1e-4 on real faces', async () => {
    for (const [dir, side] of [['attributes', 64], ['superres/x4', 16], ['superres/x8', 8]] as const) {
      const model = await loadModel(path.join(models, dir));
      const file = path.join(tmp, `${dir.replace('/', '-')}.onnx`);
      fs.writeFileSync(file, encodeModel(layersToOnnx(model).graph));
      const diff = await compareWithTfjs(model, file, [batch(side)]);
      expect(diff, dir).toBeLessThan(1e-4);
      model.dispose();
    }
  });

  it('the shipped model.onnx files are the graphs of the shipped weights', () => {
    for (const dir of ['attributes', 'superres/x4', 'superres/x8']) expect(checkOnnxFile(path.join(models, dir)), dir).toBe(true);
  });

  it('names a layer it cannot map', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    expect(() => layersToOnnx(m)).toThrow(/activation tanh has no ONNX mapping/);
    m.dispose();
  });

  it.skipIf(!onnxruntimeInstalled)('the product runs model.onnx on onnxruntime with the answers of tfjs, and a stale one not at all', async () => {
    const crops = faces.map((data) => ({ width: 64, height: 64, data }));
    process.env.FACESTREAM_ENGINE = 'tfjs';
    const onTfjs = await loadAttributeModel();
    expect(onTfjs.engine).toBe('tfjs');
    const a = await onTfjs.predict(crops);
    onTfjs.dispose();
    process.env.FACESTREAM_ENGINE = 'onnx';
    resetEngineChoice();
    const onOrt = await loadAttributeModel();
    expect(onOrt.engine).toBe('onnxruntime');
    const b = await onOrt.predict(crops);
    onOrt.dispose();
    a.forEach((x, i) => {
      expect(b[i]!.gender.value).toBe(x.gender.value);
      expect(b[i]!.gender.confidence).toBeCloseTo(x.gender.confidence, 4);
      expect(b[i]!.age).toBeCloseTo(x.age, 2);
      expect(b[i]!.ageGroup.probs).toEqual(Object.fromEntries(Object.entries(x.ageGroup.probs).map(([k, v]) => [k, expect.closeTo(v, 4)])));
    });
    // a copy whose weights changed after the export: its model.onnx is not used
    const copy = path.join(tmp, 'stale');
    fs.cpSync(path.join(models, 'attributes'), copy, { recursive: true });
    const w = fs.readFileSync(path.join(copy, 'weights.bin'));
    w[100] ^= 0xff;
    fs.writeFileSync(path.join(copy, 'weights.bin'), w);
    expect(checkOnnxFile(copy)).toBe(false);
    const stale = await loadAttributeModel(copy);
    expect(stale.engine).toBe('tfjs');
    stale.dispose();
    // re-exported, it is used again
    const { onnx } = await exportOnnxFolder(copy, [batch(64)]);
    expect(onnx.maxAbsDiffVsTfjs).toBeLessThan(1e-4);
    expect(checkOnnxFile(copy)).toBe(true);
  });
});
