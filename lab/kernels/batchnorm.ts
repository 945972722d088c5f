/**
 * BatchNormalization in training mode as two fused kernels on wasm.
 *
 * tfjs-layers trains BN as a chain of generic ops (moments: Mean, Sub, Square, Mean; then
 * FusedBatchNorm; and their gradients: broadcast Multiply, Sum, Sub, ...). On wasm the
 * broadcast multiplies and reductions over a [32,64,64,32] map cost 8-16 ms each, and the
 * BN of the first layer took about 90 ms of a 490 ms training step. Here each direction
 * is one kernel: the per-channel sums are GEMMs with a ones vector (rowSum), and the
 * centring, products and per-channel affines are wasm's own elementwise ops (SIMD, under
 * 1 ms each on a [32,64,64,32] map when the second operand is a [C] vector; JavaScript
 * loops over the heap took 10 ms a pass).
 *
 *   forward:  y = (x - mean) * rstd * gamma + beta, with the batch's mean and (biased)
 *             variance over every axis but the last, rstd = 1 / sqrt(var + eps)
 *   backward: dbeta = sum(dy), dgamma = rstd * sum(dy * (x - mean)),
 *             dx = gamma * rstd * (dy - dbeta / N - (x - mean) * rstd * dgamma / N)
 *
 * `FastBatchNormalization` is tfjs-layers' BatchNormalization with its training branch
 * routed through these kernels when the backend is wasm (channels last, centre and scale
 * on); everything else (weights, config, inference, serialisation, the class name) is the
 * original's, so saved models and BN folding see an ordinary BatchNormalization layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { fromValues, rowSum, Scope, type HeapBackend } from './wasm-kernels.ts';

const BACKEND = 'wasm';
export const BN_TRAIN = 'FacestreamBatchNormTrain';
export const BN_TRAIN_GRAD = 'FacestreamBatchNormTrainGrad';

type Backend = ConstructorParameters<typeof Scope>[0];

/** What both kernels start with: the heap, a scope, epsilon, and x seen as [rows, C]. */
function setup(x: TensorInfo, backend: unknown, attrs: unknown) {
  const h = backend as HeapBackend;
  const s = new Scope(backend as Backend);
  const c = x.shape[x.shape.length - 1]!;
  const rows = x.shape.reduce((p, q) => p * q, 1) / c;
  return { h, s, c, rows, eps: (attrs as { epsilon: number }).epsilon };
}

/** A per-channel vector that the scope releases. */
const vector = (h: HeapBackend, s: Scope, values: Float32Array) => s.own(fromValues(h, values));

/** inputs x [..., C], gamma [C], beta [C]; outputs y, mean [C], variance [C]. */
const bnTrainKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const { h, s, c, rows, eps } = setup(x, backend, attrs);
  const sum = h.typedArrayFromHeap(rowSum(s, x, rows, c));
  const mean = new Float32Array(c);
  for (let k = 0; k < c; k++) mean[k] = sum[k]! / rows;
  const xm = s.run('Sub', { a: x, b: vector(h, s, mean) });
  const sq = s.run('Square', { x: xm });
  const ssq = h.typedArrayFromHeap(rowSum(s, sq, rows, c));
  const variance = new Float32Array(c);
  for (let k = 0; k < c; k++) variance[k] = ssq[k]! / rows;
  const g = h.typedArrayFromHeap(gamma);
  const scale = new Float32Array(c);
  for (let k = 0; k < c; k++) scale[k] = g[k]! / Math.sqrt(variance[k]! + eps);
  const y = s.run('Add', { a: s.run('Multiply', { a: xm, b: vector(h, s, scale) }), b: beta });
  s.finish(y);
  return [y, fromValues(h, mean), fromValues(h, variance)];
};

/** inputs dy, x, gamma, mean, variance; outputs dx, dgamma, dbeta. */
const bnTrainGradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, gamma, mean, variance } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;
  const { h, s, c, rows, eps } = setup(x, backend, attrs);
  const sumDy = Float32Array.from(h.typedArrayFromHeap(rowSum(s, dy, rows, c)));
  const xm = s.run('Sub', { a: x, b: mean });
  const prod = s.run('Multiply', { a: dy, b: xm });
  const sumDyXm = Float32Array.from(h.typedArrayFromHeap(rowSum(s, prod, rows, c)));
  const g = h.typedArrayFromHeap(gamma);
  const v = h.typedArrayFromHeap(variance);
  const A = new Float32Array(c);
  const B = new Float32Array(c);
  const C = new Float32Array(c);
  const dgamma = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const rstd = 1 / Math.sqrt(v[k]! + eps);
    dgamma[k] = sumDyXm[k]! * rstd;
    A[k] = g[k]! * rstd;
    B[k] = (-A[k]! * rstd * dgamma[k]!) / rows;
    C[k] = (-A[k]! * sumDy[k]!) / rows;
  }
  const ady = s.run('Multiply', { a: dy, b: vector(h, s, A) });
  const bxm = s.run('Multiply', { a: xm, b: vector(h, s, B) });
  const dxOut = s.run('Add', { a: s.run('Add', { a: ady, b: bxm }), b: vector(h, s, C) });
  s.finish(dxOut);
  return [dxOut, fromValues(h, dgamma), fromValues(h, sumDy)];
};

let kernelsInstalled = false;
export function installBatchNormKernels(): void {
  if (kernelsInstalled) return;
  kernelsInstalled = true;
  tf.registerKernel({ kernelName: BN_TRAIN, backendName: BACKEND, kernelFunc: bnTrainKernel });
  tf.registerKernel({ kernelName: BN_TRAIN_GRAD, backendName: BACKEND, kernelFunc: bnTrainGradKernel });
}

/**
 * BN in training mode with the batch's statistics: returns y and the batch mean and
 * variance (for the moving averages; the caller disposes them). Differentiable in x,
 * gamma and beta.
 */
export function batchNormTrain(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): { y: Tensor; mean: Tensor; variance: Tensor } {
  let stats: Tensor[] = [];
  const op = tf.customGrad(((xi: Tensor, gi: Tensor, bi: Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, variance] = tf.engine().runKernel(BN_TRAIN, { x: xi, gamma: gi, beta: bi }, { epsilon }) as Tensor[];
    save([xi, gi, mean!, variance!]);
    // customGrad runs this in its own tidy; the statistics leave it kept, for the caller.
    stats = [tf.keep(mean!), tf.keep(variance!)];
    return {
      value: y!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, sm, sv] = saved;
        return tf.engine().runKernel(BN_TRAIN_GRAD, { dy, x: sx!, gamma: sg!, mean: sm!, variance: sv! }, { epsilon }) as Tensor[];
      },
    };
  }) as never) as (x: Tensor, g: Tensor, b: Tensor) => Tensor;
  const y = op(x, gamma, beta);
  return { y, mean: stats[0]!, variance: stats[1]! };
}

type BnLayer = tf.layers.Layer & {
  axis: number | number[]; epsilon: number; momentum: number; center: boolean; scale: boolean;
  gamma: tf.LayerVariable; beta: tf.LayerVariable; movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable;
};

// tfjs-layers does not export the class; one instance gives its constructor.
const BatchNormalization = tf.layers.batchNormalization({}).constructor as unknown as new (args?: object) => tf.layers.Layer;

/** BatchNormalization whose training branch runs the fused kernels on wasm. */
export class FastBatchNormalization extends BatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[] {
    const self = this as unknown as BnLayer;
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const axis = Array.isArray(self.axis) ? self.axis : [self.axis];
    const lastAxis = axis.length === 1 && (axis[0] === -1 || axis[0] === x.rank - 1);
    if (!kwargs?.training || tf.getBackend() !== BACKEND || !lastAxis || !self.center || !self.scale || x.dtype !== 'float32') {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTrain(x, self.gamma.read(), self.beta.read(), self.epsilon);
      const decay = 1 - self.momentum;
      for (const [variable, value] of [[self.movingMean, mean], [self.movingVariance, variance]] as const) {
        const orig = variable.read();
        variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
      }
      tf.dispose([mean, variance]);
      return y;
    });
  }
}

/** Use instead of tf.layers.batchNormalization in the project's networks. */
export function batchNormalization(args: Parameters<typeof tf.layers.batchNormalization>[0] = {}): tf.layers.Layer {
  return new FastBatchNormalization(args);
}

let classInstalled = false;
/** Loaded models (tf.loadLayersModel) get the fast layer for every BatchNormalization. */
export function installFastBatchNorm(): void {
  installBatchNormKernels();
  if (classInstalled) return;
  classInstalled = true;
  tf.serialization.registerClass(FastBatchNormalization as never);
}
