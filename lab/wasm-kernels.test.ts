import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from './runtime.ts';
import { checkGradients } from './gradcheck.ts';
import { buildReferenceNet } from './models/reference.ts';
import { randomArray } from './gradcheck.ts';

beforeAll(async () => {
  await initRuntime({ backend: 'wasm', quiet: true });
});

describe('wasm training kernels', () => {
  it('match the cpu backend on conv (strides 1/2, same/valid, k 1-5), BN, pooling and resize gradients', async () => {
    const { rows, max } = await checkGradients();
    for (const r of rows) {
      expect(r.dxRelErr, r.case).toBeLessThanOrEqual(1e-4);
      expect(r.dfRelErr, r.case).toBeLessThanOrEqual(1e-4);
    }
    expect(max).toBeLessThanOrEqual(1e-4);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('train a small conv net on wasm: the loss falls and no tensor leaks per step', () => {
    const model = buildReferenceNet({ size: 16, outputs: 5 });
    const x = tf.tensor4d(randomArray(16 * 16 * 16 * 3, 3), [16, 16, 16, 3]).add(1).div(2);
    // A learnable target: each label is a threshold on one colour channel's mean.
    const y = tf.tidy(() => {
      const m = tf.mean(x, [1, 2]);
      return tf.concat([m, tf.mul(m, -1).add(1).slice([0, 0], [16, 2])], 1).greater(0.5).cast('float32');
    });
    const optimizer = tf.train.adam(0.01);
    const step = () => {
      const loss = optimizer.minimize(
        () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      )!;
      const v = loss.dataSync()[0]!;
      loss.dispose();
      return v;
    };
    const first = step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 25; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last, `loss ${first} -> ${last}`).toBeLessThan(first * 0.7);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });
});
