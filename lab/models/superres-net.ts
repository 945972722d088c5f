/**
 * TRGAN (docs/method.md §4): a face super-resolution generator built from residual blocks, and
 * a convolutional critic for the Wasserstein loss.
 *
 * Generator, 16x16 -> 64x64 (x4) or 8x8 -> 64x64 (x8), RGB in [0, 1]:
 *   stem        conv3x3 -> BN -> ReLU
 *   common      branch 1: conv -> BN -> ReLU -> conv -> BN; branch 2: identity; add
 *   upsample    branch 1: conv3x3 (4C) -> BN -> ReLU -> pixel shuffle x2 -> conv3x3 (C);
 *               branch 2: bilinear x2 -> conv1x1 (C); add
 *   head        conv3x3 -> 3, added to the bilinear upscaling of the input (the network
 *               learns the residual over plain interpolation)
 * The thesis puts BN first in its blocks (BN -> conv); here every BN follows its conv, so
 * that all of them fold into the convolutions (src/models/fold.ts): with zero padding, a
 * BN in front of a conv cannot be folded exactly. For the same reason the upsample block's
 * BN sits before the pixel shuffle, on the 4C channels.
 *
 * Critic: strided conv3x3 layers with leaky ReLU (no BN: the Wasserstein critic is
 * trained with weight clipping, which BN's rescaling would undo), then one linear output.
 */
import { tf } from '../../src/runtime/index.ts';
import { HR_SIZE, PixelShuffle } from '../../src/models/superres/network.ts';
import { batchNormalization } from '../kernels/batchnorm.ts';

export interface GeneratorOptions {
  scale: 4 | 8;
  /** Channels of the stem and per resolution after each upsampling (one more than ups). */
  widths?: number[];
  /** Common blocks at the input resolution. */
  blocks?: number;
  seed?: number;
}

export function buildGenerator(o: GeneratorOptions): tf.LayersModel {
  const ups = o.scale === 8 ? 3 : 2;
  // Sized by measurement on two cores: the 32x32 and 64x64 stages cost the most.
  const widths = o.widths ?? (o.scale === 8 ? [64, 48, 32, 16] : [48, 32, 16]);
  const blocks = o.blocks ?? 2;
  let seed = o.seed ?? 1;
  const init = () => tf.initializers.heNormal({ seed: seed++ });
  const lr = HR_SIZE / o.scale;
  const conv = (x: tf.SymbolicTensor, filters: number, name: string, kernel = 3) =>
    tf.layers.conv2d({ filters, kernelSize: kernel, padding: 'same', useBias: false, kernelInitializer: init(), name }).apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor, name: string) => batchNormalization({ name, momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor, name: string) => tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;
  const add = (a: tf.SymbolicTensor, b: tf.SymbolicTensor, name: string) => tf.layers.add({ name }).apply([a, b]) as tf.SymbolicTensor;
  const bilinear = (x: tf.SymbolicTensor, size: number, name: string) =>
    tf.layers.upSampling2d({ size: [size, size], interpolation: 'bilinear', name }).apply(x) as tf.SymbolicTensor;

  const common = (x: tf.SymbolicTensor, c: number, name: string) => {
    let h = relu(bn(conv(x, c, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
    h = bn(conv(h, c, `${name}_conv2`), `${name}_bn2`);
    return add(x, h, `${name}_add`);
  };
  const upsample = (x: tf.SymbolicTensor, c: number, name: string) => {
    let h = relu(bn(conv(x, 4 * c, `${name}_conv1`), `${name}_bn1`), `${name}_relu1`);
    h = new PixelShuffle({ name: `${name}_shuffle` }).apply(h) as tf.SymbolicTensor;
    h = conv(h, c, `${name}_conv2`);
    const skip = conv(bilinear(x, 2, `${name}_bilinear`), c, `${name}_skip`, 1);
    return add(h, skip, `${name}_add`);
  };

  const input = tf.input({ shape: [lr, lr, 3], name: 'low' });
  let x = relu(bn(conv(input, widths[0]!, 'stem_conv'), 'stem_bn'), 'stem_relu');
  for (let i = 0; i < blocks; i++) x = common(x, widths[0]!, `c${i + 1}`);
  for (let u = 0; u < ups; u++) x = upsample(x, widths[u + 1]!, `up${u + 1}`);
  const residual = tf.layers.conv2d({
    // Zero at the start: the untrained generator is exactly bilinear upscaling.
    filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.zeros(), name: 'head',
  }).apply(x) as tf.SymbolicTensor;
  const out = add(residual, bilinear(input, o.scale, 'input_bilinear'), 'high');
  return tf.model({ inputs: input, outputs: out, name: `trgan_x${o.scale}` });
}

export function buildCritic(seed = 101): tf.LayersModel {
  let s = seed;
  const input = tf.input({ shape: [HR_SIZE, HR_SIZE, 3], name: 'face' });
  let x: tf.SymbolicTensor = input;
  for (const [i, f] of [32, 64, 96, 128].entries()) {
    x = tf.layers.conv2d({ filters: f, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.heNormal({ seed: s++ }), name: `critic_conv${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ alpha: 0.2, name: `critic_lrelu${i + 1}` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: 'critic_gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }), name: 'critic_out' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'trgan_critic' });
}

/** Area (box) downscaling of [N, 64, 64, 3] by an integer factor: what a distant camera sees. */
export function downscale(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  return tf.avgPool(x, factor, factor, 'valid');
}
