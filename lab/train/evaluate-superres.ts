/**
 * `facestream eval superres`: on the aligned 64x64 faces of a CelebA-like folder (the
 * validation split of ../shared/data, or every face of another folder), downscaled by area
 * to 16x16 (x4) or 8x8 (x8):
 *   - PSNR (RGB in [0, 1], mean over faces) and SSIM (luminance, 11x11 Gaussian window,
 *     sigma 1.5, the usual constants) of bicubic upscaling (sharp's Catmull-Rom), of TRGAN
 *     and of the peer @upscalerjs/esrgan-slim (a general-purpose ESRGAN that ships
 *     offline), against the original crop;
 *   - downstream: the attribute model's CelebA mean accuracy on the original crops, on
 *     bicubic-upscaled and on TRGAN-upscaled x4 faces;
 *   - ms per face of TRGAN and of ESRGAN (batch 32, this machine's backend).
 */
import { progress } from '../../src/progress.ts';
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { loadModel, readArtifacts } from '../../src/models/io.ts';
import { downscale } from '../models/superres-net.ts';
import { initRuntime, tf } from '../runtime.ts';
import { PROJECT_ROOT } from '../../src/data.ts';
import { CELEBA_ATTRIBUTES } from './datasets.ts';
import { hrBatch } from './superres.ts';
import { loadLabelled, type LabelledSet } from './attributes.ts';

const require = createRequire(import.meta.url);

export interface Quality { psnr: number; ssim: number }

export function psnr(a: tf.Tensor4D, b: tf.Tensor4D): Float32Array {
  return tf.tidy(() => {
    const mse = tf.mean(tf.square(tf.sub(tf.clipByValue(a, 0, 1), b)), [1, 2, 3]);
    return tf.mul(-10 / Math.LN10, tf.log(tf.maximum(mse, 1e-10))).dataSync() as Float32Array;
  });
}

function gaussian(size = 11, sigma = 1.5): tf.Tensor4D {
  const g: number[] = [];
  const h = (size - 1) / 2;
  for (let i = 0; i < size; i++) g.push(Math.exp(-((i - h) ** 2) / (2 * sigma * sigma)));
  const s = g.reduce((p, q) => p + q, 0);
  const k: number[] = [];
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) k.push((g[i]! * g[j]!) / (s * s));
  return tf.tensor4d(k, [size, size, 1, 1]);
}

/** SSIM on luminance (BT.601), per face. */
export function ssim(a: tf.Tensor4D, b: tf.Tensor4D): Float32Array {
  return tf.tidy(() => {
    const lum = (t: tf.Tensor4D) => tf.sum(tf.mul(tf.clipByValue(t, 0, 1), tf.tensor1d([0.299, 0.587, 0.114])), 3, true) as tf.Tensor4D;
    const x = lum(a), y = lum(b);
    const w = gaussian();
    const f = (t: tf.Tensor4D) => tf.conv2d(t, w, 1, 'valid');
    const mx = f(x), my = f(y);
    const sxx = tf.sub(f(tf.mul(x, x) as tf.Tensor4D), tf.mul(mx, mx));
    const syy = tf.sub(f(tf.mul(y, y) as tf.Tensor4D), tf.mul(my, my));
    const sxy = tf.sub(f(tf.mul(x, y) as tf.Tensor4D), tf.mul(mx, my));
    const c1 = 0.01 ** 2, c2 = 0.03 ** 2;
    const num = tf.mul(tf.add(tf.mul(tf.mul(mx, my), 2), c1), tf.add(tf.mul(sxy, 2), c2));
    const den = tf.mul(tf.add(tf.add(tf.square(mx), tf.square(my)), c1), tf.add(tf.add(sxx, syy), c2));
    return tf.mean(tf.div(num, den), [1, 2, 3]).dataSync() as Float32Array;
  });
}

/** Bicubic (Catmull-Rom, sharp) upscaling of [N, h, w, 3] in [0, 1] to size x size. */
export async function bicubic(low: tf.Tensor4D, size: number): Promise<tf.Tensor4D> {
  const [n, h, w] = low.shape;
  const src = low.dataSync();
  const out = new Float32Array(n * size * size * 3);
  for (let i = 0; i < n; i++) {
    const px = new Uint8Array(h * w * 3);
    for (let j = 0; j < px.length; j++) px[j] = Math.round(Math.min(1, Math.max(0, src[i * h * w * 3 + j]!)) * 255);
    const up = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).resize(size, size, { kernel: 'cubic' }).raw().toBuffer();
    for (let j = 0; j < up.length; j++) out[i * size * size * 3 + j] = up[j]! / 255;
  }
  return tf.tensor4d(out, [n, size, size, 3]);
}

export function esrganDir(scale: number): string {
  // The package's exports hide package.json; its root is the folder above dist/.
  const entry = require.resolve('@upscalerjs/esrgan-slim');
  const root = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
  return path.join(root, 'models', `x${scale}`);
}

export async function loadEsrgan(scale: number): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(readArtifacts(esrganDir(scale))));
}

/** ESRGAN takes and returns 0-255. */
function esrganApply(model: tf.LayersModel, low: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.div(model.predict(tf.mul(low, 255)) as tf.Tensor, 255) as tf.Tensor4D);
}

export function defaultSuperresDir(scale: number): string {
  return path.join(PROJECT_ROOT, 'models', 'superres', `x${scale}`);
}

function mean(xs: number[]): number {
  return xs.reduce((p, q) => p + q, 0) / Math.max(1, xs.length);
}

/** Correct CelebA attribute answers (of 40 per face) in a batch of logits for the faces `idx`. */
function celebaCorrect(logits: Float32Array, data: LabelledSet, idx: number[]): number {
  let ok = 0;
  idx.forEach((k, i) => {
    for (let a = 0; a < CELEBA_ATTRIBUTES.length; a++) ok += (logits[i * 40 + a]! > 0 ? 1 : 0) === data.celeba[k * 40 + a] ? 1 : 0;
  });
  return ok;
}

export async function evalSuperres(o: {
  celeba: string; split?: 'validation' | 'all'; scales?: Array<4 | 8>; generators?: Partial<Record<number, tf.LayersModel>>;
  loaded?: LabelledSet; limit?: number; peer?: boolean; downstream?: boolean;
}) {
  await initRuntime();
  const data = o.loaded ?? await loadLabelled({ celeba: o.celeba });
  const split = o.split ?? 'validation';
  let idx = [...Array(data.n).keys()].filter((k) => data.source[k] === 0 && (split === 'all' || data.valid[k]));
  if (o.limit) idx = idx.slice(0, o.limit);
  const report: Record<string, unknown> = { n: idx.length, split };
  const ms: Record<string, number> = {};
  const attrNet = o.downstream === false ? undefined : await loadModel(path.join(PROJECT_ROOT, 'models', 'attributes')).catch(() => undefined);
  const correct: Record<string, number> = {};
  for (const scale of o.scales ?? [4, 8]) {
    const given = o.generators?.[scale];
    const gen = given ?? await loadModel(defaultSuperresDir(scale)).catch(() => undefined);
    const peer = o.peer === false ? undefined : await loadEsrgan(scale);
    const q: Record<string, { psnr: number[]; ssim: number[] }> = {};
    const add = (name: string, a: tf.Tensor4D, b: tf.Tensor4D) => {
      q[name] ??= { psnr: [], ssim: [] };
      q[name].psnr.push(...psnr(a, b));
      q[name].ssim.push(...ssim(a, b));
    };
    let genMs = 0, peerMs = 0;
    const bar = progress(`eval superres x${scale}`, idx.length);
    for (let i = 0; i < idx.length; i += 32) {
      bar.update(Math.min(idx.length, i + 32));
      const chunk = idx.slice(i, i + 32);
      const hr = hrBatch(data, chunk);
      const low = downscale(hr, scale);
      const bic = await bicubic(low, 64);
      add('bicubic', bic, hr);
      const outs: Record<string, tf.Tensor4D> = { bicubic: bic };
      if (gen) {
        const t0 = performance.now();
        const sr = tf.tidy(() => gen.predict(low) as tf.Tensor4D);
        sr.dataSync();
        genMs += performance.now() - t0;
        add('trgan', sr, hr);
        outs.trgan = sr;
      }
      if (peer) {
        const t0 = performance.now();
        const sr = esrganApply(peer, low);
        sr.dataSync();
        peerMs += performance.now() - t0;
        add('esrgan', sr, hr);
        sr.dispose();
      }
      if (attrNet && scale === 4) {
        for (const [name, t] of [['original', hr], ['bicubic', bic], ['trgan', outs.trgan]] as const) {
          if (!t) continue;
          const logits = tf.tidy(() => ((attrNet.predict(t) as tf.Tensor[])[0]!).dataSync() as Float32Array);
          correct[name] = (correct[name] ?? 0) + celebaCorrect(logits, data, chunk);
        }
      }
      tf.dispose([hr, low, ...Object.values(outs)]);
    }
    bar.stop();
    const summary = (name: string) => q[name] && { psnr: +mean(q[name].psnr).toFixed(3), ssim: +mean(q[name].ssim).toFixed(4) };
    report[`x${scale}`] = { bicubic: summary('bicubic'), trgan: summary('trgan'), esrgan: summary('esrgan') };
    if (gen) ms[`trganX${scale}`] = +(genMs / idx.length).toFixed(2);
    if (peer) ms[`esrganX${scale}`] = +(peerMs / idx.length).toFixed(2);
    peer?.dispose();
    if (!given) gen?.dispose();
  }
  attrNet?.dispose();
  if (Object.keys(correct).length) {
    report.downstream = Object.fromEntries(Object.entries(correct).map(([k, ok]) => [k, +(ok / (idx.length * 40)).toFixed(4)]));
  }
  report.msPerFace = { trgan: ms.trganX4 ?? ms.trganX8, esrgan: ms.esrganX4 ?? ms.esrganX8, ...ms };
  return report;
}
