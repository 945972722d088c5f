/**
 * Compares the conv and BatchNorm gradients of the active backend with the pure-JS cpu
 * backend's reference kernels on the same random data. Used by the tests and by
 * `facestream bench fold` (the `maxGradRelErr` figure).
 */
import { tf } from '../src/runtime/index.ts';
import { batchNormTrain } from './kernels/batchnorm.ts';
import { rng } from '../src/calculators/random.ts';

export interface ConvCase {
  x: [number, number, number, number];
  k: number;
  cout: number;
  stride: 1 | 2;
  pad: 'same' | 'valid';
}

/** The cases the project's models use: strides 1 and 2, both paddings, kernels 1-5. */
export const CONV_CASES: ConvCase[] = [
  { x: [2, 10, 10, 3], k: 3, cout: 5, stride: 2, pad: 'same' },
  { x: [3, 11, 11, 2], k: 3, cout: 4, stride: 2, pad: 'valid' },
  { x: [2, 13, 13, 3], k: 5, cout: 6, stride: 2, pad: 'same' },
  { x: [2, 12, 9, 4], k: 1, cout: 8, stride: 1, pad: 'same' },
  { x: [1, 16, 16, 8], k: 3, cout: 8, stride: 1, pad: 'same' },
  { x: [4, 9, 9, 5], k: 2, cout: 3, stride: 2, pad: 'valid' },
  { x: [2, 14, 14, 6], k: 4, cout: 7, stride: 2, pad: 'same' },
  { x: [5, 8, 8, 16], k: 5, cout: 4, stride: 1, pad: 'valid' },
  { x: [3, 7, 7, 2], k: 1, cout: 3, stride: 2, pad: 'valid' },
  { x: [32, 16, 16, 32], k: 3, cout: 64, stride: 2, pad: 'same' },
];

/** Deterministic uniform [-1, 1) numbers. */
export function randomArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function convGrads(c: ConvCase, seed: number): { dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const fShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.cout];
    const x = tf.tensor4d(randomArray(size(c.x), seed), c.x);
    const f = tf.tensor4d(randomArray(size(fShape), seed + 1), fShape);
    const y = tf.conv2d(x, f, c.stride, c.pad);
    const dy = tf.tensor(randomArray(size(y.shape), seed + 2), y.shape);
    const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.stride, c.pad), dy)),
    )([x, f]);
    return { dx: g[0]!.dataSync() as Float32Array, df: g[1]!.dataSync() as Float32Array };
  });
}

/**
 * BatchNorm gradients through the FusedBatchNorm op (whose gradient the runtime
 * replaces) or, as the reference, through elementary ops with tfjs' stock gradients.
 */
function bnGrads(seed: number, how: 'composite' | 'batchNorm' | 'fused', shape: number[] = [4, 6, 6, 5]): Float32Array[] {
  return tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const axes = shape.slice(0, -1).map((_, i) => i);
    const x = tf.tensor(randomArray(size(shape), seed), shape).mul(3).add(1);
    const gamma = tf.tensor1d(randomArray(c, seed + 1)).add(1.5);
    const beta = tf.tensor1d(randomArray(c, seed + 2));
    const dy = tf.tensor(randomArray(size(shape), seed + 3), shape);
    const g = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      let y: tf.Tensor;
      if (how === 'fused') {
        const r = batchNormTrain(xx, gg, bb, 1e-3);
        tf.dispose([r.mean, r.variance]);
        y = r.y;
      } else {
        const { mean, variance } = tf.moments(xx, axes);
        y = how === 'composite'
          ? tf.add(tf.mul(tf.mul(tf.sub(xx, mean), tf.rsqrt(tf.add(variance, 1e-3))), gg), bb)
          : tf.batchNorm(xx, mean, variance, bb, gg, 1e-3);
      }
      return tf.sum(tf.mul(y, dy));
    })([x, gamma, beta]);
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

/** Other ops a training step of the project's models differentiates, by input gradient. */
export const OTHER_CASES: Array<{ name: string; shape: [number, number, number, number]; f: (x: tf.Tensor4D) => tf.Tensor }> = [
  { name: 'maxPool k2 s2 valid', shape: [4, 8, 8, 6], f: (x) => tf.maxPool(x, 2, 2, 'valid') },
  { name: 'maxPool k3 s2 valid', shape: [3, 9, 9, 5], f: (x) => tf.maxPool(x, 3, 2, 'valid') },
  { name: 'maxPool k3 s2 same', shape: [2, 7, 7, 4], f: (x) => tf.maxPool(x, 3, 2, 'same') },
  { name: 'maxPool k2 s2 same (odd)', shape: [2, 7, 9, 3], f: (x) => tf.maxPool(x, 2, 2, 'same') },
  { name: 'avgPool k2 s2 valid', shape: [3, 8, 8, 5], f: (x) => tf.avgPool(x, 2, 2, 'valid') },
  { name: 'resizeBilinear x2', shape: [2, 6, 6, 4], f: (x) => tf.image.resizeBilinear(x, [12, 12]) },
  // Square only: tfjs 4.22's ResizeBilinearGrad returns [N, W, H, C] for non-square inputs.
  { name: 'resizeBilinear x4', shape: [2, 4, 4, 3], f: (x) => tf.image.resizeBilinear(x, [16, 16]) },
  { name: 'pixel shuffle x2 (reshape/transpose)', shape: [2, 4, 4, 12], f: (x) =>
    tf.reshape(tf.transpose(tf.reshape(x, [2, 4, 4, 2, 2, 3]), [0, 1, 3, 2, 4, 5]), [2, 8, 8, 3]) },
  { name: 'mean/variance (moments)', shape: [4, 5, 5, 3], f: (x) => { const m = tf.moments(x, [0, 1, 2]); return tf.concat([m.mean, m.variance]); } },
];

function otherGrads(seed: number): Float32Array[] {
  return OTHER_CASES.map((c, i) => tf.tidy(() => {
    const x = tf.tensor4d(randomArray(size(c.shape), seed + i), c.shape);
    const y = c.f(x);
    const dy = tf.tensor(randomArray(size(y.shape), seed + 50 + i), y.shape);
    return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(c.f(xx as tf.Tensor4D), dy)))(x).dataSync() as Float32Array;
  }));
}

/** max |a - b| / max |b|: the error relative to the reference gradient's scale. */
export function relErr(a: Float32Array, ref: Float32Array): number {
  if (a.length !== ref.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

export interface GradCheck { case: string; dxRelErr: number; dfRelErr: number }

/**
 * Runs every case on the active backend and on cpu, restoring the active backend after.
 * Returns one row per case plus the BatchNorm gradient row.
 */
export async function checkGradients(cases: ConvCase[] = CONV_CASES): Promise<{ rows: GradCheck[]; max: number }> {
  const active = tf.getBackend();
  const mine = cases.map((c, i) => convGrads(c, 100 + i * 7));
  const mineBn = bnGrads(999, 'batchNorm');
  // The fused training kernels exist on wasm only; elsewhere the layer uses tfjs' own path.
  const fusedShapes = [[4, 6, 6, 5], [16, 7]];
  const mineFused = active === 'wasm' ? fusedShapes.map((sh, i) => bnGrads(700 + i, 'fused', sh)) : [];
  const mineOther = otherGrads(500);
  await tf.setBackend('cpu');
  let refs: Array<{ dx: Float32Array; df: Float32Array }>;
  let refBn: Float32Array[];
  let refFused: Float32Array[][];
  let refOther: Float32Array[];
  try {
    refs = cases.map((c, i) => convGrads(c, 100 + i * 7));
    refBn = bnGrads(999, 'composite');
    refFused = mineFused.length ? fusedShapes.map((sh, i) => bnGrads(700 + i, 'composite', sh)) : [];
    refOther = otherGrads(500);
  } finally {
    await tf.setBackend(active);
  }
  const rows = cases.map((c, i) => ({
    case: `x${c.x.join('x')} k${c.k} c${c.cout} s${c.stride} ${c.pad}`,
    dxRelErr: relErr(mine[i]!.dx, refs[i]!.dx),
    dfRelErr: relErr(mine[i]!.df, refs[i]!.df),
  }));
  rows.push({
    case: 'batchNorm (x, gamma; beta as dx column 2)',
    dxRelErr: Math.max(relErr(mineBn[0]!, refBn[0]!), relErr(mineBn[2]!, refBn[2]!)),
    dfRelErr: relErr(mineBn[1]!, refBn[1]!),
  });
  mineFused.forEach((m, i) => rows.push({
    case: `fused BN training kernels ${fusedShapes[i]!.join('x')} (x, gamma; beta as dx column 2)`,
    dxRelErr: Math.max(relErr(m[0]!, refFused[i]![0]!), relErr(m[2]!, refFused[i]![2]!)),
    dfRelErr: relErr(m[1]!, refFused[i]![1]!),
  }));
  OTHER_CASES.forEach((c, i) => rows.push({ case: c.name, dxRelErr: relErr(mineOther[i]!, refOther[i]!), dfRelErr: 0 }));
  const max = Math.max(...rows.map((r) => Math.max(r.dxRelErr, r.dfRelErr)));
  return { rows, max };
}
