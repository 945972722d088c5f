/**
 * The reference network of the neural-core benchmark and tests: shaped like the
 * attribute trunk (64x64 RGB input, ConvUnits conv -> BN -> ReLU, max-pools, one
 * stride-2 conv, a dense unit with BN, and a 40-way multi-label head).
 */
import { tf } from '../../src/runtime/index.ts';
import { batchNormalization } from '../kernels/batchnorm.ts';

let seed = 1;

export function convUnit(x: tf.SymbolicTensor, filters: number, name: string, opts: { kernel?: number; strides?: number } = {}): tf.SymbolicTensor {
  const conv = tf.layers.conv2d({
    filters, kernelSize: opts.kernel ?? 3, strides: opts.strides ?? 1, padding: 'same', useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: seed++ }), name: `${name}_conv`,
  }).apply(x) as tf.SymbolicTensor;
  const bn = batchNormalization({ name: `${name}_bn` }).apply(conv) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(bn) as tf.SymbolicTensor;
}

/** Seeded: the same weights on every run, so tests and benchmarks repeat. */
export function buildReferenceNet(opts: { size?: number; outputs?: number } = {}): tf.LayersModel {
  seed = 1;
  const size = opts.size ?? 64;
  const input = tf.input({ shape: [size, size, 3], name: 'image' });
  let x = convUnit(input, 32, 'u1');
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as tf.SymbolicTensor;
  x = convUnit(x, 64, 'u2');
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x) as tf.SymbolicTensor;
  x = convUnit(x, 96, 'u3', { strides: 2 });
  x = convUnit(x, 128, 'u4');
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool4' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const d = tf.layers.dense({ units: 128, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'fc_dense' }).apply(x) as tf.SymbolicTensor;
  const dbn = batchNormalization({ name: 'fc_bn' }).apply(d) as tf.SymbolicTensor;
  const feat = tf.layers.activation({ activation: 'relu', name: 'fc_relu' }).apply(dbn) as tf.SymbolicTensor;
  const out = tf.layers.dense({
    units: opts.outputs ?? 40, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'attributes',
  }).apply(feat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'reference' });
}

/**
 * Gives every BatchNormalization layer non-trivial statistics (mean and variance far
 * from 0 and 1, gamma and beta away from their initial values), so that a folding bug
 * cannot hide behind identity BN layers.
 */
export function randomizeBatchNorm(model: tf.LayersModel, seed = 7): void {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const weights = layer.getWeights();
    const fresh = tf.tidy(() => weights.map((w, i) => {
      const n = w.size;
      const v = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        const r = rnd();
        // order: gamma, beta, moving_mean, moving_variance
        v[j] = i === 0 ? 0.5 + r : i === 1 ? r - 0.5 : i === 2 ? (r - 0.5) * 2 : 0.2 + 2 * r;
      }
      return tf.tensor(v, w.shape);
    }));
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}
