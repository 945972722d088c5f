import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from './runtime.ts';
import { batchNormalization, FastBatchNormalization } from './kernels/batchnorm.ts';
import { randomArray } from './gradcheck.ts';

beforeAll(async () => {
  await initRuntime({ backend: 'wasm', quiet: true });
});

function pair(shape: number[]) {
  const c = shape[shape.length - 1]!;
  const stock = tf.layers.batchNormalization({ momentum: 0.9 });
  const fast = batchNormalization({ momentum: 0.9 });
  stock.build(shape);
  fast.build(shape);
  const w = [tf.tensor1d(randomArray(c, 1)).add(1.2), tf.tensor1d(randomArray(c, 2)), tf.tensor1d(randomArray(c, 3)), tf.tensor1d(randomArray(c, 4)).abs().add(0.5)];
  stock.setWeights(w);
  fast.setWeights(w);
  tf.dispose(w);
  return { stock, fast };
}

/** Layers applied to concrete tensors only cannot be disposed; their weights can. */
function free(layer: tf.layers.Layer): void {
  for (const w of layer.weights) w.dispose();
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('FastBatchNormalization (fused BN training kernels on wasm)', () => {
  for (const shape of [[8, 12, 12, 16], [32, 24]]) {
    it(`equals tfjs' BatchNormalization in training and inference, ${shape.join('x')}`, () => {
      const { stock, fast } = pair(shape);
      expect(fast).toBeInstanceOf(FastBatchNormalization);
      expect(fast.getClassName()).toBe('BatchNormalization');
      const x = tf.tensor(randomArray(shape.reduce((p, q) => p * q, 1), 9), shape).mul(2).add(0.7);
      const dy = tf.tensor(randomArray(x.size, 10), shape);
      const run = (layer: tf.layers.Layer) => {
        const f = tf.valueAndGrads((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, dy)));
        const { value, grads } = f([x]);
        return [value, grads[0]!];
      };
      const [v1, g1] = run(stock);
      const [v2, g2] = run(fast);
      expect(Math.abs(v1!.dataSync()[0]! - v2!.dataSync()[0]!) / Math.max(1, Math.abs(v1!.dataSync()[0]!))).toBeLessThan(1e-4);
      expect(maxDiff(g1!, g2!)).toBeLessThan(1e-4);
      // the moving statistics moved the same way
      stock.getWeights().forEach((w, i) => expect(maxDiff(w, fast.getWeights()[i]!)).toBeLessThan(1e-5));
      // gamma and beta gradients through a variable, as an optimizer sees them
      const wGrads = (layer: tf.layers.Layer) => tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar, layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      const a = wGrads(stock);
      const b = wGrads(fast);
      const ga = Object.values(a.grads); // gamma, beta
      const gb = Object.values(b.grads);
      expect(ga.length).toBe(2);
      expect(gb.length).toBe(2);
      ga.forEach((g, i) => expect(maxDiff(g, gb[i]!) / Math.max(1, tf.max(tf.abs(g)).dataSync()[0]!)).toBeLessThan(1e-4));
      // inference uses the moving statistics, unchanged
      expect(maxDiff(stock.apply(x) as tf.Tensor, fast.apply(x) as tf.Tensor)).toBeLessThan(1e-5);
      tf.dispose([x, dy, v1!, g1!, v2!, g2!, a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
      free(stock);
      free(fast);
    });
  }

  it('leaves no tensor behind in a training call and its gradient', () => {
    const { fast } = pair([4, 6, 6, 8]);
    const x = tf.randomNormal([4, 6, 6, 8]);
    const once = () => tf.tidy(() => { tf.grad((xx: tf.Tensor) => tf.sum(fast.apply(xx, { training: true }) as tf.Tensor))(x).dataSync(); });
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) once();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    free(fast);
  });

  it('a saved model loads back with the fast layer', async () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const out = batchNormalization({ name: 'bn' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => { artifacts = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.getLayer('bn')).toBeInstanceOf(FastBatchNormalization);
    model.dispose();
    loaded.dispose();
  });
});
