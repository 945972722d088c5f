/**
 * Warps an RGB image with an affine matrix into a fixed-size crop (bilinear, border
 * replicated), as OpenCV's warpAffine does with the inverse map. Pure function.
 */
import { invertAffine, type Affine } from './similarity.ts';

export interface RgbImage { width: number; height: number; data: Uint8Array }

/**
 * Source pixels per crop pixel of `m` (the larger of its two axes): above 1 the warp
 * shrinks the face.
 */
export function warpScale(m: Affine): number {
  return inverseScale(invertAffine(m));
}
const inverseScale = (inv: Affine) => Math.max(Math.hypot(inv[0], inv[3]), Math.hypot(inv[1], inv[4]));

/**
 * Samples a side at most: past a 4x shrink they are spread further apart instead of growing
 * in number (a 64-px crop costs about 2 ms at 4 x 4 here, 5.7 ms at 7 x 7).
 */
export const MAX_SAMPLES = 4;

/**
 * `m` maps source (frame) coordinates to destination (crop) coordinates.
 * `antialias`: where the warp shrinks by 1.5x or more, each crop pixel is the mean of n x n
 * bilinear samples spread over the source area it covers (n = the shrink factor, rounded,
 * at most MAX_SAMPLES), instead of one: a 160-px face shrunk to a 64-px crop by single samples aliases (skin
 * texture and hair turn into noise the network never saw in training, where faces shrank
 * by less than 1.5x).
 */
export function warpAffine(src: RgbImage, m: Affine, width: number, height: number, opts: { antialias?: boolean } = {}): RgbImage {
  const inv = invertAffine(m);
  const n = opts.antialias ? Math.min(MAX_SAMPLES, Math.max(1, Math.round(inverseScale(inv)))) : 1;
  const out = new Uint8Array(width * height * 3);
  const { width: sw, height: sh, data } = src;
  const acc = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      acc[0] = acc[1] = acc[2] = 0;
      // n x n bilinear samples at sub-pixel offsets inside the crop pixel (n = 1: its centre)
      for (let j = 0; j < n; j++) {
        const dy = y + (j + 0.5) / n - 0.5;
        for (let i = 0; i < n; i++) {
          const dx = x + (i + 0.5) / n - 0.5;
          const sx = Math.min(Math.max(inv[0] * dx + inv[1] * dy + inv[2], 0), sw - 1);
          const sy = Math.min(Math.max(inv[3] * dx + inv[4] * dy + inv[5], 0), sh - 1);
          const x0 = Math.floor(sx), y0 = Math.floor(sy);
          const x1 = Math.min(x0 + 1, sw - 1), y1 = Math.min(y0 + 1, sh - 1);
          const fx = sx - x0, fy = sy - y0;
          const p00 = (y0 * sw + x0) * 3, p01 = (y0 * sw + x1) * 3, p10 = (y1 * sw + x0) * 3, p11 = (y1 * sw + x1) * 3;
          for (let c = 0; c < 3; c++) {
            const top = data[p00 + c]! + (data[p01 + c]! - data[p00 + c]!) * fx;
            const bot = data[p10 + c]! + (data[p11 + c]! - data[p10 + c]!) * fx;
            acc[c]! += top + (bot - top) * fy;
          }
        }
      }
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(acc[c]! / (n * n));
    }
  }
  return { width, height, data: out };
}
