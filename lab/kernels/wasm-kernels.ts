/**
 * Training kernels for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` (so `fit` on any conv net throws),
 * a slow `Conv2DBackpropInput`, and the generic `FusedBatchNorm` gradient tiles its
 * inputs to full size. Both convolution gradients are convolutions themselves, so they
 * are expressed here through wasm's fast (XNNPACK) `Conv2D`:
 *
 * - filter gradient: dW[i,j,ci,co] = sum_{n,oh,ow} xpad[n, oh*s+i, ow*s+j, ci] * dy[n,oh,ow,co].
 *   With xpad transposed to [Ci, H, W, N] as the "batch" and dy transposed to
 *   [OH, OW, N, Co] as the "filter", that is a stride-1 'valid' conv with dilation s,
 *   whose first kh x kw outputs are the gradient.
 * - input gradient: dx is the full correlation of dy, dilated by the stride with zeros,
 *   with the filter flipped in space and its channel axes swapped.
 *
 * - max-pool gradient: wasm's own `MaxPoolGrad` (and `MaxPoolWithArgmax`) return wrong
 *   values once there is more than one channel or image (measured against the cpu
 *   backend: the gradient does not even sum to sum(dy)), so it is replaced by a plain
 *   loop over the wasm heap that routes each dy to the first maximum of its window, as
 *   TensorFlow does. It is also several times faster than the broken kernel.
 *
 * Kernels here call the backend's own kernel functions directly (not tf ops), so they
 * create no engine-tracked tensors; every intermediate is released with disposeData.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap, GradConfig, Tensor } from '@tensorflow/tfjs';

type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const BACKEND = 'wasm';
/**
 * Which formulation of the filter gradient. Measured on the attribute trunk's layers at
 * batch 32 (ms, GEMM vs dilated conv): 64x64x3->32 26 vs 55; 32x32x32->64 65 vs 69;
 * 16x16x64->96 stride 2 115 vs 11 (wasm's strided slices are slow); 8x8x96->128 20 vs
 * 19; 4x4x128->64 8 vs 3. 'auto' takes the GEMM for stride 1 with few input channels.
 */
export let filterGradRoute: 'auto' | 'matmul' | 'conv' = 'auto';
export function setFilterGradRoute(r: typeof filterGradRoute): void { filterGradRoute = r; }
let installed = false;
let originalBackpropInput: KernelConfig | undefined;

export class Scope {
  private readonly infos: TensorInfo[] = [];
  constructor(readonly backend: Backend) {}
  run(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(name, BACKEND);
    if (!kernel) throw new Error(`wasm kernel ${name} is missing`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend as never }) as TensorInfo;
    this.infos.push(out);
    return out;
  }
  /** Release every intermediate except `keep`. */
  finish(keep: TensorInfo): TensorInfo {
    for (const info of this.infos) if (info !== keep) this.backend.disposeData(info.dataId);
    return keep;
  }
  /** A tensor made outside run() that finish() should release too. */
  own(info: TensorInfo): TensorInfo { this.infos.push(info); return info; }
}

function stridesOf(s: ConvGradAttrs['strides']): [number, number] {
  return typeof s === 'number' ? [s, s] : [s[0], s[1]];
}

export const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as ConvGradAttrs & { filterShape: [number, number, number, number] };
  if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const [sh, sw] = stridesOf(a.strides);
  const [kh, kw, ci, co] = a.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], a.filterShape, [sh, sw], 1, a.pad, a.dimRoundingMode,
  );
  const { top, left } = info.padInfo;
  const [n, h, w] = x.shape;
  const needH = (info.outHeight - 1) * sh + kh;
  const needW = (info.outWidth - 1) * sw + kw;
  // Only rows/columns that some output reads matter; trailing ones are cut or padded.
  const padB = Math.max(0, needH - (h + top));
  const padR = Math.max(0, needW - (w + left));
  const s = new Scope(backend as unknown as Backend);
  let xp = x;
  if (top || left || padB || padR) {
    xp = s.run('PadV2', { x }, { paddings: [[0, 0], [top, padB], [left, padR], [0, 0]], constantValue: 0 });
  }
  const hp = h + top + padB;
  const wp = w + left + padR;
  if (hp > needH || wp > needW) {
    xp = s.run('Slice', { x: xp }, { begin: [0, 0, 0, 0], size: [n, needH, needW, ci] });
  }
  const route = filterGradRoute === 'auto' ? (sh === 1 && sw === 1 && ci <= 8 ? 'matmul' : 'conv') : filterGradRoute;
  const out = route === 'matmul'
    ? filterGradViaMatMul(s, xp, dy, { n, ci, co, kh, kw, sh, sw, oh: info.outHeight, ow: info.outWidth })
    : filterGradViaConv(s, xp, dy, { ci, co, kh, kw, sh, sw });
  return s.finish(out);
};

/**
 * The filter gradient as one GEMM: the kh*kw shifted (and strided) views of the input,
 * channel-major, stacked into [kh*kw*Ci, M] (M = N*OH*OW), times dy as [M, Co]. wasm's
 * matmul is fast only when neither operand needs a transpose, which this layout gives.
 */
function filterGradViaMatMul(
  s: Scope, xp: TensorInfo, dy: TensorInfo,
  d: { n: number; ci: number; co: number; kh: number; kw: number; sh: number; sw: number; oh: number; ow: number },
): TensorInfo {
  const m = d.n * d.oh * d.ow;
  const xt = s.run('Transpose', { x: xp }, { perm: [3, 0, 1, 2] }); // [Ci, N, Hp, Wp]
  const taps: TensorInfo[] = [];
  for (let i = 0; i < d.kh; i++) {
    for (let j = 0; j < d.kw; j++) {
      const v = s.run('StridedSlice', { x: xt }, {
        begin: [0, 0, i, j], end: [d.ci, d.n, i + (d.oh - 1) * d.sh + 1, j + (d.ow - 1) * d.sw + 1], strides: [1, 1, d.sh, d.sw],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      taps.push(s.run('Reshape', { x: v }, { shape: [d.ci, m] }));
    }
  }
  // Concat's kernel takes its inputs as an array, as tf.concat passes them.
  const cols = taps.length === 1 ? taps[0]! : s.run('Concat', taps as never, { axis: 0 });
  const a3 = s.run('Reshape', { x: cols }, { shape: [1, d.kh * d.kw * d.ci, m] });
  const b3 = s.run('Reshape', { x: dy }, { shape: [1, m, d.co] });
  const g = s.run('BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false });
  return s.run('Reshape', { x: g }, { shape: [d.kh, d.kw, d.ci, d.co] });
}

/** The earlier route: a stride-1 conv of the transposed input with dy as the filter, dilated by the stride. */
export function filterGradViaConv(
  s: Scope, xp: TensorInfo, dy: TensorInfo, d: { ci: number; co: number; kh: number; kw: number; sh: number; sw: number },
): TensorInfo {
  const xt = s.run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] });
  const dyt = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const g = s.run('Conv2D', { x: xt, filter: dyt }, {
    strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [d.sh, d.sw], dimRoundingMode: undefined as never,
  });
  // g is [Ci, kh, kw, Co] exactly, because the input was cut to the rows the outputs read.
  const out = s.run('Transpose', { x: g }, { perm: [1, 2, 0, 3] });
  return out;
}


export const conv2dBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as ConvGradAttrs & { inputShape: [number, number, number, number] };
  const [kh, kw, ci] = filter.shape as [number, number, number, number];
  const [sh, sw] = stridesOf(a.strides);
  const info = a.dataFormat === 'NCHW' ? undefined : tf.backend_util.computeConv2DInfo(
    a.inputShape, filter.shape as [number, number, number, number], [sh, sw], 1, a.pad, a.dimRoundingMode,
  );
  const padTop = info ? kh - 1 - info.padInfo.top : -1;
  const padLeft = info ? kw - 1 - info.padInfo.left : -1;
  if (!info || padTop < 0 || padLeft < 0) {
    // Layouts and paddings the models never use keep wasm's own kernel.
    if (!originalBackpropInput) throw new Error('Conv2DBackpropInput: unsupported case on wasm');
    return originalBackpropInput.kernelFunc(args);
  }
  const [n, h, w] = a.inputShape;
  const [, oh, ow, co] = dy.shape;
  const s = new Scope(backend as unknown as Backend);
  let d = dy;
  if (sh > 1 || sw > 1) {
    // Zero-dilate dy by the stride: [N,OH,1,OW,1,C] padded to [N,OH,sh,OW,sw,C].
    const r6 = s.run('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
    const p6 = s.run('PadV2', { x: r6 }, {
      paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0,
    });
    d = s.run('Reshape', { x: p6 }, { shape: [n, oh * sh, ow * sw, co] });
  }
  const dh = d.shape[1]!;
  const dw = d.shape[2]!;
  const padBottom = Math.max(0, h + kh - 1 - dh - padTop);
  const padRight = Math.max(0, w + kw - 1 - dw - padLeft);
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
  // The border goes to the convolution as explicit padding: no padded copy of dy.
  let out = s.run('Conv2D', { x: d, filter: swapped }, {
    strides: [1, 1], pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]], dataFormat: 'NHWC',
    dilations: [1, 1], dimRoundingMode: undefined as never,
  });
  if (out.shape[1] !== h || out.shape[2] !== w) {
    out = s.run('Slice', { x: out }, { begin: [0, 0, 0, 0], size: [n, h, w, ci] });
  }
  return s.finish(out);
};

export interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

export const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const a = attrs as unknown as {
    filterSize: [number, number] | number; strides: [number, number] | number; pad: Pad;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode,
  );
  const b = backend as unknown as HeapBackend;
  const out = b.makeOutput(input.shape as number[], 'float32');
  // Views are taken after the allocation: growing the heap detaches earlier views.
  const dx = b.typedArrayFromHeap(out);
  const x = b.typedArrayFromHeap(input);
  const g = b.typedArrayFromHeap(dy);
  dx.fill(0);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Channels innermost: every window position is read as one contiguous run of c values.
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b0 = 0; b0 < n; b0++) {
    const xb = b0 * h * w * c;
    for (let r = 0; r < oh; r++) {
      const r0 = r * sh - top;
      const rs = Math.max(0, r0);
      const re = Math.min(h, r0 + fh);
      for (let q = 0; q < ow; q++) {
        const q0 = q * sw - left;
        const qs = Math.max(0, q0);
        const qe = Math.min(w, q0 + fw);
        const gBase = ((b0 * oh + r) * ow + q) * c;
        if (rs >= re || qs >= qe) continue;
        let first = true;
        for (let y = rs; y < re; y++) {
          for (let xx = qs; xx < qe; xx++) {
            const base = xb + (y * w + xx) * c;
            if (first) {
              for (let ch = 0; ch < c; ch++) { best[ch] = x[base + ch]!; at[ch] = base + ch; }
              first = false;
            } else {
              // strictly greater: the first maximum in row-major order wins, as in TensorFlow
              for (let ch = 0; ch < c; ch++) {
                const v = x[base + ch]!;
                if (v > best[ch]!) { best[ch] = v; at[ch] = base + ch; }
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) dx[at[ch]!] += g[gBase + ch]!;
      }
    }
  }
  return out;
};

/** A new float32 tensor holding `values` (a per-channel vector, a small output). */
export function fromValues(h: HeapBackend, values: Float32Array, shape: number[] = [values.length]): TensorInfo {
  const t = h.makeOutput(shape, 'float32');
  h.typedArrayFromHeap(t).set(values);
  return t;
}

/**
 * Sums of the rows of x seen as [rows, cols]: one matmul, X^T[cols, rows] x ones[rows, 1].
 * The data must be the left operand: wasm packs the right operand of every matmul
 * (caching the packing per tensor), which took 28 ms for a fresh [131072, 32] map; this
 * way it packs only the ones vector. 3.3 ms for [131072, 32], against 5.4 ms for a
 * JavaScript loop and 13.6 ms for wasm's own Sum (which transposes first).
 */
export function rowSum(s: Scope, x: TensorInfo, rows: number, cols: number): TensorInfo {
  const h = s.backend as unknown as HeapBackend;
  const ones = s.own(h.makeOutput([1, rows, 1], 'float32'));
  h.typedArrayFromHeap(ones).fill(1);
  const a3 = s.run('Reshape', { x }, { shape: [1, rows, cols] });
  const g = s.run('BatchMatMul', { a: a3, b: ones }, { transposeA: true, transposeB: false });
  return s.run('Reshape', { x: g }, { shape: [cols] });
}

/**
 * Sum and Mean over the leading axes of a float32 tensor ([N,H,W] of [N,H,W,C], the
 * reductions of BatchNorm and of every broadcast gradient) as one rowSum matmul.
 * wasm's own kernels transpose the whole tensor first and took 13.6 ms for one such sum
 * of a [32,64,64,32] map; other reductions keep wasm's kernels.
 */
function leadingReduce(name: 'Sum' | 'Mean', original: KernelConfig | undefined): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = (inputs as { x: TensorInfo }).x;
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') {
      if (!original) throw new Error(`${name}: wasm kernel missing`);
      return original.kernelFunc(args);
    }
    const rows = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
    const tail = x.shape.slice(axes.length);
    const cols = tail.reduce((p, q) => p * q, 1);
    const outShape = keepDims ? [...axes.map(() => 1), ...tail] : tail;
    const s = new Scope(backend as unknown as Backend);
    const sum = rowSum(s, x, rows, cols);
    let out = sum;
    if (name === 'Mean') {
      out = s.own((backend as unknown as HeapBackend).makeOutput([cols], 'float32'));
      const h = backend as unknown as HeapBackend;
      const src = h.typedArrayFromHeap(sum);
      const dst = h.typedArrayFromHeap(out);
      for (let c = 0; c < cols; c++) dst[c] = src[c]! / rows;
    }
    return s.finish(s.run('Reshape', { x: out }, { shape: outShape }));
  };
}

/**
 * The BatchNormalization gradient with broadcasting instead of tfjs' full-size `tile`,
 * and with the per-channel sums shared: sum(dy) and sum(dy * (x - mean)) are the only
 * reductions, over any input rank (conv maps and dense activations alike).
 */
export const fusedBatchNormGrad: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const dyT = dy as Tensor;
    const [x, mean, variance, scale] = saved as Tensor[];
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const perChannel = mean!.rank === 1;
    const axes = perChannel ? [...Array(x!.rank - 1).keys()] : [];
    const reduce = (t: Tensor) => (perChannel ? tf.sum(t, axes) : t);
    const rstd = tf.rsqrt(tf.add(variance!, eps));
    const gamma = scale ?? tf.scalar(1);
    const rstdGamma = tf.mul(rstd, gamma);
    // Computed here, not lazily in the closures: the tape runs each closure in its own
    // tidy, so a tensor one closure memoised would be gone for the next.
    const sumDy = reduce(dyT);
    const sumDyXm = reduce(tf.mul(dyT, tf.sub(x!, mean!)));
    return {
      x: () => tf.reshape(tf.mul(dyT, rstdGamma), x!.shape),
      mean: () => tf.reshape(tf.neg(tf.mul(rstdGamma, sumDy)), mean!.shape),
      variance: () =>
        tf.reshape(tf.mul(tf.mul(tf.mul(tf.pow(rstd, 3), gamma), -0.5), sumDyXm), mean!.shape),
      scale: () => tf.reshape(tf.mul(rstd, sumDyXm), mean!.shape),
      offset: () => tf.reshape(sumDy, mean!.shape),
    };
  },
};

/** Registers the training kernels on wasm and the lean BN gradient. Idempotent. */
export function installTrainingKernels(): void {
  if (installed) return;
  installed = true;
  originalBackpropInput = tf.getKernel('Conv2DBackpropInput', BACKEND);
  if (originalBackpropInput) tf.unregisterKernel('Conv2DBackpropInput', BACKEND);
  // setupFunc binds the original's wasm exports, which its fallback path still needs.
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput', backendName: BACKEND, kernelFunc: conv2dBackpropInput,
    setupFunc: originalBackpropInput?.setupFunc,
  });
  if (!tf.getKernel('Conv2DBackpropFilter', BACKEND)) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: BACKEND, kernelFunc: conv2dBackpropFilter });
  }
  if (tf.getKernel('MaxPoolGrad', BACKEND)) tf.unregisterKernel('MaxPoolGrad', BACKEND);
  tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: BACKEND, kernelFunc: maxPoolGrad });
  for (const name of ['Sum', 'Mean'] as const) {
    const original = tf.getKernel(name, BACKEND);
    if (original) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      kernelName: name, backendName: BACKEND, kernelFunc: leadingReduce(name, original), setupFunc: original?.setupFunc,
    });
  }
  tf.registerGradient(fusedBatchNormGrad);
}
