/**
 * Low-resolution copies of aligned crops: what a face `factor` times smaller than the
 * crop looks like once the pipeline has aligned it (box-filtered down, bilinear back up).
 * The live pipeline passes faces from `quality.minSize` (12 px) up, so the attribute
 * model sees such faces; the SA heads learn on these copies that they are often
 * unrecognizable, and the evaluation measures the grades on them.
 */
import type { LabelledSet } from './attributes.ts';

/** One HWC uint8 crop of `size` x `size`, as if it had been `size / factor` pixels wide. */
export function degradeCrop(src: Uint8Array, size: number, factor: number, channels = 3): Uint8Array {
  if (!Number.isInteger(factor) || factor < 1 || size % factor) throw new Error(`degradeCrop: factor ${factor} must be a whole divisor of the crop size ${size}`);
  const lo = size / factor;
  const small = new Float32Array(lo * lo * channels);
  const inv = 1 / (factor * factor);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = (((y / factor) | 0) * lo + ((x / factor) | 0)) * channels;
      const s = (y * size + x) * channels;
      for (let c = 0; c < channels; c++) small[d + c] += src[s + c]! * inv;
    }
  }
  const out = new Uint8Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(lo - 1, Math.max(0, (y + 0.5) / factor - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(lo - 1, y0 + 1), wy = sy - y0;
    for (let x = 0; x < size; x++) {
      const sx = Math.min(lo - 1, Math.max(0, (x + 0.5) / factor - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(lo - 1, x0 + 1), wx = sx - x0;
      for (let c = 0; c < channels; c++) {
        const v = (1 - wy) * ((1 - wx) * small[(y0 * lo + x0) * channels + c]! + wx * small[(y0 * lo + x1) * channels + c]!)
          + wy * ((1 - wx) * small[(y1 * lo + x0) * channels + c]! + wx * small[(y1 * lo + x1) * channels + c]!);
        out[(y * size + x) * channels + c] = Math.round(v);
      }
    }
  }
  return out;
}

/**
 * A set holding the faces `idx` of `s`, then one low-resolution copy of each per factor,
 * with the same labels. Returns the new set and the indices of every face in it.
 */
export function withDegradedCopies(s: LabelledSet, idx: number[], factors: number[]): { set: LabelledSet; idx: number[] } {
  const copies = 1 + factors.length;
  const n = idx.length * copies;
  const px = s.size * s.size * 3;
  const at = (j: number) => idx[j % idx.length]!;
  const set: LabelledSet = {
    ...s,
    n,
    crops: new Uint8Array(n * px),
    source: Uint8Array.from({ length: n }, (_, j) => s.source[at(j)]!),
    celeba: new Uint8Array(n * 40),
    gender: Int8Array.from({ length: n }, (_, j) => s.gender[at(j)]!),
    age: Float32Array.from({ length: n }, (_, j) => s.age[at(j)]!),
    race: s.race && Int8Array.from({ length: n }, (_, j) => s.race![at(j)]!),
    smile: Int8Array.from({ length: n }, (_, j) => s.smile[at(j)]!),
    valid: Uint8Array.from({ length: n }, (_, j) => s.valid[at(j)]!),
    calib: Uint8Array.from({ length: n }, (_, j) => s.calib[at(j)]!),
    method: Uint8Array.from({ length: n }, (_, j) => s.method[at(j)]!),
    files: Array.from({ length: n }, (_, j) => s.files[at(j)]!),
  };
  idx.forEach((k, j) => {
    const crop = s.crops.subarray(k * px, (k + 1) * px);
    set.crops.set(crop, j * px);
    set.celeba.set(s.celeba.subarray(k * 40, (k + 1) * 40), j * 40);
    factors.forEach((f, c) => {
      const to = (c + 1) * idx.length + j;
      set.crops.set(degradeCrop(crop, s.size, f), to * px);
      set.celeba.set(s.celeba.subarray(k * 40, (k + 1) * 40), to * 40);
    });
  });
  return { set, idx: [...Array(n).keys()] };
}
