import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../../lab/runtime.ts';
import { randomArray } from '../../../lab/gradcheck.ts';
import { foldBatchNorm } from '../fold.ts';
import { randomizeBatchNorm } from '../../../lab/models/reference.ts';
import { PixelShuffle } from './network.ts';
import { buildCritic, buildGenerator, downscale } from '../../../lab/models/superres-net.ts';
import { upscaleCrops } from '../../operators/superres.ts';

beforeAll(async () => {
  await initRuntime({ backend: 'wasm', quiet: true });
});

/** Smooth synthetic "faces": low-frequency colour patterns a generator can learn to sharpen. */
function faces(n: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const coarse = tf.tensor4d(randomArray(n * 8 * 8 * 3, seed), [n, 8, 8, 3]).mul(0.5).add(0.5) as tf.Tensor4D;
    return tf.clipByValue(tf.image.resizeBilinear(coarse, [64, 64]), 0, 1) as tf.Tensor4D;
  });
}

describe('TRGAN generator and critic', () => {
  it('map 16x16 (x4) and 8x8 (x8) to 64x64, the critic to one score', () => {
    for (const scale of [4, 8] as const) {
      const g = buildGenerator({ scale });
      expect(g.inputs[0]!.shape).toEqual([null, 64 / scale, 64 / scale, 3]);
      expect(g.outputs[0]!.shape).toEqual([null, 64, 64, 3]);
      const y = tf.tidy(() => (g.predict(tf.zeros([2, 64 / scale, 64 / scale, 3])) as tf.Tensor).shape);
      expect(y).toEqual([2, 64, 64, 3]);
      g.dispose();
    }
    const c = buildCritic();
    expect(c.outputs[0]!.shape).toEqual([null, 1]);
    c.dispose();
  });

  it('untrained, is exactly bilinear upscaling (zero-initialised residual head)', () => {
    const g = buildGenerator({ scale: 4 });
    const d = tf.tidy(() => {
      const low = downscale(faces(2, 3), 4);
      return tf.max(tf.abs(tf.sub(g.predict(low) as tf.Tensor, tf.image.resizeBilinear(low, [64, 64])))).dataSync()[0]!;
    });
    expect(d).toBeLessThan(1e-5);
    g.dispose();
  });

  it('pixel shuffle equals depth-to-space', () => {
    const x = tf.tensor4d(randomArray(2 * 3 * 3 * 8, 5), [2, 3, 3, 8]);
    const layer = new PixelShuffle({});
    const a = layer.apply(x) as tf.Tensor;
    const b = tf.depthToSpace(x, 2, 'NHWC');
    expect(a.shape).toEqual([2, 6, 6, 2]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('a few training steps lower the pixel loss on a tiny set, without leaking tensors', () => {
    const g = buildGenerator({ scale: 4, widths: [16, 8, 8], blocks: 1 });
    const hr = faces(8, 11);
    const low = downscale(hr, 4);
    const opt = tf.train.adam(3e-3);
    const step = () => {
      const l = opt.minimize(() => tf.mean(tf.abs(tf.sub(g.apply(low, { training: true }) as tf.Tensor, hr))) as tf.Scalar, true)!;
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    };
    const first = step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 30; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first * 0.8);
    tf.dispose([hr, low]);
    opt.dispose();
    g.dispose();
  });

  it('folded generator equals the unfolded one (non-trivial BN statistics)', async () => {
    const g = buildGenerator({ scale: 4 });
    randomizeBatchNorm(g);
    const { model: f, report } = await foldBatchNorm(g);
    expect(Object.keys(report.kept)).toEqual([]);
    const low = downscale(faces(4, 21), 4);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g.predict(low) as tf.Tensor, f.predict(low) as tf.Tensor))).dataSync()[0]!);
    expect(d).toBeLessThan(1e-4);
    expect(f.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(false);
    const before = tf.memory().numTensors;
    tf.tidy(() => { (f.predict(low) as tf.Tensor).dataSync(); });
    expect(tf.memory().numTensors).toBe(before);
    low.dispose();
    g.dispose();
    f.dispose();
  });

  it('the superres element upscales RGB crops to 64x64 without leaking', () => {
    const g = buildGenerator({ scale: 4, widths: [8, 8, 8], blocks: 1 });
    const crops = [0, 1, 2].map((i) => ({ width: 16, height: 16, data: Uint8Array.from({ length: 16 * 16 * 3 }, (_, j) => (j * 7 + i * 13) % 256) }));
    const before = tf.memory().numTensors;
    const out = upscaleCrops(g, crops);
    expect(tf.memory().numTensors).toBe(before);
    expect(out).toHaveLength(3);
    expect(out[0]!.width).toBe(64);
    expect(out[0]!.data.length).toBe(64 * 64 * 3);
    g.dispose();
  });
});
