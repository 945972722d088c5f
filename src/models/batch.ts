/**
 * Runs a (folded) model on a batch of aligned crops in one call and one disposal scope,
 * returning plain arrays: no tensor outlives the call.
 */
import { tf } from '../runtime/index.ts';

export interface Crop {
  width: number;
  height: number;
  /** RGB bytes, row-major, width * height * 3. */
  data: Uint8Array | Float32Array;
}

export interface BatchOutputs {
  /** Output name -> one row per crop. */
  [output: string]: Float32Array[];
}

/**
 * Crops as one float32 NHWC array scaled to [0, 1]; with `mirrored`, followed by each
 * crop's mirror image (twice the rows).
 */
export function cropsToArray(crops: Crop[], mirrored = false): Float32Array {
  if (crops.length === 0) throw new Error('cropsToBatch: empty batch');
  const { width, height } = crops[0]!;
  const per = width * height * 3;
  const n = crops.length;
  const buf = new Float32Array(per * n * (mirrored ? 2 : 1));
  crops.forEach((c, i) => {
    if (c.width !== width || c.height !== height || c.data.length !== per) {
      throw new Error(`crop ${i} is ${c.width}x${c.height} (${c.data.length} values); the batch is ${width}x${height}x3`);
    }
    const scale = c.data instanceof Uint8Array ? 1 / 255 : 1;
    const off = i * per;
    for (let j = 0; j < per; j++) buf[off + j] = c.data[j]! * scale;
    if (!mirrored) return;
    const m = (n + i) * per;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const from = off + (y * width + x) * 3, to = m + (y * width + (width - 1 - x)) * 3;
        buf[to] = buf[from]!; buf[to + 1] = buf[from + 1]!; buf[to + 2] = buf[from + 2]!;
      }
    }
  });
  return buf;
}

/** Stacks crops into one float32 NHWC batch scaled to [0, 1]. */
export function cropsToBatch(crops: Crop[]): tf.Tensor4D {
  const { width, height } = crops[0] ?? { width: 0, height: 0 };
  return tf.tensor4d(cropsToArray(crops), [crops.length, height, width, 3]);
}

/**
 * The model's outputs for x; with `flip`, averaged over x and its mirror image (one
 * batch of twice the size). Call inside tf.tidy.
 */
export function predictMaybeFlipped(model: tf.LayersModel, x: tf.Tensor4D, flip: boolean): tf.Tensor[] {
  const n = x.shape[0];
  const out = model.predict(flip ? tf.concat([x, tf.reverse(x, 2)]) : x);
  const list = Array.isArray(out) ? out : [out];
  if (!flip) return list;
  return list.map((t) => tf.div(tf.add(tf.slice(t, 0, n), tf.slice(t, n, n)), 2));
}

/**
 * One output of a batch run on `n` crops, a row per crop; with `mirrored` (the batch held the
 * crops and then their mirror images, as cropsToArray makes it), each row averaged with its
 * mirror image's.
 */
export function outputRows(flat: Float32Array, n: number, mirrored: boolean): Float32Array[] {
  const width = flat.length / (mirrored ? 2 * n : n);
  return Array.from({ length: n }, (_, i) => {
    const a = flat.slice(i * width, (i + 1) * width);
    if (mirrored) for (let j = 0; j < width; j++) a[j] = (a[j]! + flat[(n + i) * width + j]!) / 2;
    return a;
  });
}

export function predictBatch(model: tf.LayersModel, crops: Crop[], opts: { flip?: boolean } = {}): BatchOutputs {
  const names = model.outputNames;
  const arrays = tf.tidy(() => {
    const list = predictMaybeFlipped(model, cropsToBatch(crops), !!opts.flip);
    return list.map((t) => t.dataSync() as Float32Array);
  });
  const result: BatchOutputs = {};
  arrays.forEach((flat, o) => { result[names[o]!] = outputRows(flat, crops.length, false); });
  return result;
}
