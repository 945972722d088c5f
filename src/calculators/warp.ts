/**
 * Warps an RGB image with an affine matrix into a fixed-size crop (bilinear, border
 * replicated), as OpenCV's warpAffine does with the inverse map. Pure function.
 */
import { invertAffine, type Affine } from './similarity.ts';

export interface RgbImage { width: number; height: number; data: Uint8Array }

/** `m` maps source (frame) coordinates to destination (crop) coordinates. */
export function warpAffine(src: RgbImage, m: Affine, width: number, height: number): RgbImage {
  const inv = invertAffine(m);
  const out = new Uint8Array(width * height * 3);
  const { width: sw, height: sh, data } = src;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(inv[0] * x + inv[1] * y + inv[2], 0), sw - 1);
      const sy = Math.min(Math.max(inv[3] * x + inv[4] * y + inv[5], 0), sh - 1);
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, sw - 1), y1 = Math.min(y0 + 1, sh - 1);
      const fx = sx - x0, fy = sy - y0;
      const o = (y * width + x) * 3;
      const p00 = (y0 * sw + x0) * 3, p01 = (y0 * sw + x1) * 3, p10 = (y1 * sw + x0) * 3, p11 = (y1 * sw + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const top = data[p00 + c]! + (data[p01 + c]! - data[p00 + c]!) * fx;
        const bot = data[p10 + c]! + (data[p11 + c]! - data[p10 + c]!) * fx;
        out[o + c] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  return { width, height, data: out };
}
