/**
 * `facestream bench fold`: the neural core in one run on the active backend (wasm by
 * default), on the reference net shaped like the attribute trunk, at batch 32.
 *
 * - trainToForwardRatio: one training step (forward in training mode, backward, Adam
 *   update) over one inference pass of the same, unfolded model on the same batch.
 * - fusedSpeedup: unfolded inference time over folded inference time.
 * - maxAbsDiff: the largest output difference between folded and unfolded.
 * - maxGradRelErr: the largest relative difference between the backend's gradients
 *   and the cpu backend's (see src/runtime/gradcheck.ts).
 * - dataParallel: training steps of the attribute network on a batch of 64 with one
 *   thread and with two (`train attributes --threads 2`, src/train/parallel.ts);
 *   `speedup` is one thread's step time over two threads'.
 */
import os from 'node:os';
import { initRuntime, tf } from '../runtime.ts';
import { checkGradients, randomArray } from '../gradcheck.ts';
import { buildReferenceNet, randomizeBatchNorm } from '../models/reference.ts';
import { foldBatchNorm } from '../../src/models/fold.ts';
import { median } from './stats.ts';
import { buildAttributeNet } from '../models/attributes-net.ts';
import { disposeBatch, multiTaskLoss, type Batch } from '../train/attributes.ts';
import { GradientThreads } from '../train/parallel.ts';

function timeIt(f: () => void, warmup: number, runs: number): number {
  for (let i = 0; i < warmup; i++) f();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export interface FoldBench {
  backend: string;
  machine: string;
  batch: number;
  trainStepMs: number;
  forwardMs: number;
  foldedForwardMs: number;
  trainToForwardRatio: number;
  fusedSpeedup: number;
  maxAbsDiff: number;
  maxGradRelErr: number;
  topTrainingKernelsMs: Record<string, number>;
  dataParallel: { batch: number; oneThreadStepMs: number; twoThreadStepMs: number; speedup: number };
}

/** A labelled batch of random pixels with every head's labels present. */
function syntheticBatch(n: number, seed: number): Batch {
  const onehot = (k: number, width: number) => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % k), 'int32'), width).cast('float32');
  return {
    x: tf.tensor4d(randomArray(n * 64 * 64 * 3, seed), [n, 64, 64, 3]).add(1).div(2) as tf.Tensor4D,
    labels: {
      celeba: tf.tensor2d(randomArray(n * 40, seed + 1), [n, 40]).greater(0).cast('float32'), celebaMask: tf.ones([n]),
      gender: onehot(2, 2), genderMask: tf.ones([n]), age: tf.fill([n, 1], 0.3), ageMask: tf.ones([n]),
      age5: onehot(5, 5), age5Mask: tf.ones([n]), smile: onehot(2, 2), smileMask: tf.ones([n]),
    },
  };
}

async function benchDataParallel(runs: number): Promise<FoldBench['dataParallel']> {
  const batch = 64;
  const model = buildAttributeNet({ seed: 2 });
  const whole = syntheticBatch(batch, 3);
  const halves = [syntheticBatch(batch / 2, 3), syntheticBatch(batch / 2, 4)];
  // One optimizer each: tfjs' Adam keeps its moments by the position of a variable in the
  // update, and the two paths hand it different variable lists.
  const optimizer = tf.train.adam(1e-4);
  const optimizer2 = tf.train.adam(1e-4);
  const one = () => {
    const loss = optimizer.minimize(() => multiTaskLoss(model.apply(whole.x, { training: true }) as tf.Tensor[], whole.labels).total, true)!;
    loss.dataSync();
    loss.dispose();
  };
  const threads = await GradientThreads.start(model, 2);
  const two = async () => { await threads.step(model, optimizer2, halves); };
  const timeAsync = async (f: () => Promise<void>) => {
    for (let i = 0; i < 2; i++) await f();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) { const t0 = performance.now(); await f(); t.push(performance.now() - t0); }
    return median(t);
  };
  try {
    const oneMs = await timeAsync(async () => one());
    const twoMs = await timeAsync(two);
    return { batch, oneThreadStepMs: Math.round(oneMs), twoThreadStepMs: Math.round(twoMs), speedup: Math.round((oneMs / twoMs) * 100) / 100 };
  } finally {
    await threads.close();
    [whole, ...halves].forEach(disposeBatch);
    model.dispose();
    optimizer.dispose();
    optimizer2.dispose();
  }
}

export async function benchFold(opts: { batch?: number; runs?: number } = {}): Promise<FoldBench> {
  const info = await initRuntime({ backend: process.env.FACESTREAM_BACKEND ?? 'wasm' });
  const batch = opts.batch ?? 32;
  const runs = opts.runs ?? 7;
  const model = buildReferenceNet();
  const x = tf.tensor4d(randomArray(batch * 64 * 64 * 3, 1), [batch, 64, 64, 3]).add(1).div(2) as tf.Tensor4D;
  const y = tf.tidy(() => tf.tensor2d(randomArray(batch * 40, 2), [batch, 40]).greater(0).cast('float32'));
  const optimizer = tf.train.adam(1e-3);
  const step = () => {
    const loss = optimizer.minimize(
      () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      true,
    )!;
    loss.dataSync();
    loss.dispose();
  };
  const trainStepMs = timeIt(step, 2, runs);
  const profile = await tf.profile(step);
  const byKernel: Record<string, number> = {};
  for (const k of profile.kernels) byKernel[k.name] = (byKernel[k.name] ?? 0) + Number(k.kernelTimeMs);
  const top = Object.fromEntries(
    Object.entries(byKernel).filter(([n]) => !n.endsWith('__op')).sort((a, b) => b[1] - a[1]).slice(0, 8)
      .map(([n, v]) => [n, Math.round(v * 10) / 10]),
  );

  // Inference with BN statistics that are not trivial, so folding has something to fold.
  randomizeBatchNorm(model);
  const { model: folded } = await foldBatchNorm(model);
  const infer = (m: tf.LayersModel) => () => tf.tidy(() => { (m.predict(x) as tf.Tensor).dataSync(); });
  // Interleave the two so that machine noise hits both alike.
  const unfoldedTimes: number[] = [];
  const foldedTimes: number[] = [];
  for (let r = 0; r < 3; r++) {
    unfoldedTimes.push(timeIt(infer(model), 1, runs));
    foldedTimes.push(timeIt(infer(folded), 1, runs));
  }
  const forwardMs = median(unfoldedTimes);
  const foldedForwardMs = median(foldedTimes);
  const maxAbsDiff = tf.tidy(() =>
    tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor))).dataSync()[0]!,
  );
  const grads = await checkGradients();
  const dataParallel = await benchDataParallel(Math.min(runs, 5));
  tf.dispose([x, y]);
  model.dispose();
  folded.dispose();
  optimizer.dispose();
  const cpu = os.cpus();
  const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    backend: info.backend,
    machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, node ${process.version}`,
    batch,
    trainStepMs: round(trainStepMs, 1),
    forwardMs: round(forwardMs, 1),
    foldedForwardMs: round(foldedForwardMs, 1),
    trainToForwardRatio: round(trainStepMs / forwardMs, 2),
    fusedSpeedup: round(forwardMs / foldedForwardMs, 2),
    maxAbsDiff,
    maxGradRelErr: grads.max,
    topTrainingKernelsMs: top,
    dataParallel,
  };
}
