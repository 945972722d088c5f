/**
 * The multi-task attribute network, built for training (docs/method.md §1), narrowed for two CPU cores: a shared
 * trunk of ConvUnits (conv -> BN -> ReLU, max-pools) on 64x64 aligned crops, and one
 * subnet per task (3x3 conv -> 1x1 conv -> fc_feature -> output). Outputs are logits.
 *
 * Heads (output names):
 *   celeba    40 logits, sigmoid per CelebA attribute
 *   gender    2 logits (male, female), plain softmax      gender_sa  3 (N+1) SA-softmax
 *   age       1 output, age in years / 100 (regression)
 *   age5      5 logits (AGE_BINS), plain softmax           age5_sa    6 (N+1)
 *   smile     2 logits (no, yes), plain softmax            smile_sa   3 (N+1)
 */
import { tf } from '../../src/runtime/index.ts';
import { INPUT_SIZE, type Head } from '../../src/models/attributes/network.ts';
import { batchNormalization } from '../kernels/batchnorm.ts';

export interface NetworkOptions { widths?: number[]; seed?: number; /** Side of the square input crop (a multiple of 16); INPUT_SIZE by default. */ inputSize?: number }

export function buildAttributeNet(opts: NetworkOptions = {}): tf.LayersModel {
  const widths = opts.widths ?? [32, 64, 96, 128];
  let seed = opts.seed ?? 1;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const unit = (x: tf.SymbolicTensor, filters: number, name: string, kernel = 3): tf.SymbolicTensor => {
    const c = tf.layers.conv2d({ filters, kernelSize: kernel, padding: 'same', useBias: false, kernelInitializer: init(), name: `${name}_conv` }).apply(x) as tf.SymbolicTensor;
    const b = batchNormalization({ name: `${name}_bn`, momentum: 0.9 }).apply(c) as tf.SymbolicTensor;
    return tf.layers.reLU({ name: `${name}_relu` }).apply(b) as tf.SymbolicTensor;
  };
  const pool = (x: tf.SymbolicTensor, name: string) => tf.layers.maxPooling2d({ poolSize: 2, name }).apply(x) as tf.SymbolicTensor;
  const side = opts.inputSize ?? INPUT_SIZE;
  if (!(Number.isInteger(side) && side >= 32 && side % 16 === 0)) throw new Error(`input size ${side} is not a multiple of 16 from 32 up`);
  const input = tf.input({ shape: [side, side, 3], name: 'face' });
  let x = unit(input, widths[0]!, 't1');
  x = pool(x, 't1_pool'); // 32
  x = unit(x, widths[1]!, 't2');
  x = pool(x, 't2_pool'); // 16
  x = unit(x, widths[2]!, 't3a');
  x = unit(x, widths[2]!, 't3b');
  x = pool(x, 't3_pool'); // 8
  x = unit(x, widths[3]!, 't4');
  const shared = pool(x, 't4_pool'); // 4x4 (side / 16)

  const subnet = (task: string, conv: number, reduce: number, feature: number) => {
    let h = unit(shared, conv, `${task}_c3`);
    h = unit(h, reduce, `${task}_c1`, 1);
    h = tf.layers.flatten({ name: `${task}_flat` }).apply(h) as tf.SymbolicTensor;
    const d = tf.layers.dense({ units: feature, useBias: false, kernelInitializer: init(), name: `${task}_fc_feature` }).apply(h) as tf.SymbolicTensor;
    const bn = batchNormalization({ name: `${task}_fc_bn`, momentum: 0.9 }).apply(d) as tf.SymbolicTensor;
    const r = tf.layers.reLU({ name: `${task}_fc_relu` }).apply(bn) as tf.SymbolicTensor;
    return tf.layers.dropout({ rate: 0.3, name: `${task}_drop`, seed: seed++ }).apply(r) as tf.SymbolicTensor;
  };
  const out = (x: tf.SymbolicTensor, units: number, name: Head) =>
    tf.layers.dense({ units, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name }).apply(x) as tf.SymbolicTensor;

  const fCeleba = subnet('celeba', 128, 64, 256);
  const fGender = subnet('gender', 64, 32, 64);
  const fAge = subnet('age', 64, 32, 64);
  const fSmile = subnet('smile', 64, 32, 64);
  const outputs = [
    out(fCeleba, 40, 'celeba'),
    out(fGender, 2, 'gender'), out(fGender, 3, 'gender_sa'),
    out(fAge, 1, 'age'),
    out(fAge, 5, 'age5'), out(fAge, 6, 'age5_sa'),
    out(fSmile, 2, 'smile'), out(fSmile, 3, 'smile_sa'),
  ];
  return tf.model({ inputs: input, outputs, name: 'facestream_attributes' });
}

/**
 * tfjs' Dropout with a `seed` draws the same mask at every call, so a network built with
 * seeded dropout trains with one fixed mask per batch row. Training sets a new seed on
 * every Dropout layer before each step (drawn from the run's seed, so runs stay
 * reproducible); the layers read it at call time. Returns how many layers it set.
 */
export function setDropoutSeeds(model: tf.LayersModel, seed: number): number {
  const layers = model.layers.filter((l) => l.getClassName() === 'Dropout');
  layers.forEach((l, i) => { (l as unknown as { seed?: number }).seed = seed + i; });
  return layers.length;
}
