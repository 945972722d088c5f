/**
 * Pictures that may leave the analysis when a setting asks for them (the live view's frames,
 * `dashboard.video`; the tracks' thumbnails, `storage.snapshots`): an area of a frame scaled
 * by area averaging, and JPEG encoding (jpeg-js, pure JavaScript: no native build).
 */
import jpeg from 'jpeg-js';
import type { Box } from './geometry.ts';
import type { RgbImage } from './warp.ts';

/** The pixels of `box` (whole pixels inside `src`, e.g. from clipToImage), copied row by row. */
export function cropRgb(src: RgbImage, box: Box): RgbImage {
  const { x, y, width, height } = box;
  const data = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) data.set(src.data.subarray(((y + r) * src.width + x) * 3, ((y + r) * src.width + x + width) * 3), r * width * 3);
  return { width, height, data };
}

/**
 * The area `box` of `src` (clipped to the image) scaled to `width` x `height` by averaging
 * the source pixels each output pixel covers (no aliasing when shrinking a frame 3x).
 */
export function resizeArea(src: RgbImage, box: Box, width: number, height: number): RgbImage {
  const x0 = Math.max(0, Math.floor(box.x)), y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(src.width, Math.ceil(box.x + box.width)), y1 = Math.min(src.height, Math.ceil(box.y + box.height));
  const out = new Uint8Array(width * height * 3);
  const bw = Math.max(1, x1 - x0), bh = Math.max(1, y1 - y0);
  for (let oy = 0; oy < height; oy++) {
    const sy0 = y0 + Math.floor((oy * bh) / height);
    const sy1 = Math.max(sy0 + 1, Math.min(y1, y0 + Math.floor(((oy + 1) * bh) / height)));
    for (let ox = 0; ox < width; ox++) {
      const sx0 = x0 + Math.floor((ox * bw) / width);
      const sx1 = Math.max(sx0 + 1, Math.min(x1, x0 + Math.floor(((ox + 1) * bw) / width)));
      let r = 0, g = 0, b = 0, n = 0;
      for (let y = sy0; y < sy1 && y < src.height; y++) {
        let i = (y * src.width + sx0) * 3;
        for (let x = sx0; x < sx1 && x < src.width; x++, i += 3) { r += src.data[i]!; g += src.data[i + 1]!; b += src.data[i + 2]!; n++; }
      }
      const o = (oy * width + ox) * 3;
      if (n) { out[o] = r / n; out[o + 1] = g / n; out[o + 2] = b / n; }
    }
  }
  return { width, height, data: out };
}

/** The whole frame at most `maxWidth` wide (never enlarged), aspect kept. */
export function scaleDown(src: RgbImage, maxWidth: number): RgbImage {
  if (src.width <= maxWidth) return src;
  const height = Math.max(1, Math.round((src.height * maxWidth) / src.width));
  return resizeArea(src, { x: 0, y: 0, width: src.width, height: src.height }, maxWidth, height);
}

/**
 * A face's thumbnail: its box widened by `margin` on every side (hair and chin in), made
 * square around the box's centre, scaled to `size` x `size`.
 */
export function faceThumbnail(frame: RgbImage, box: Box, size = 96, margin = 0.25): RgbImage {
  const side = Math.max(box.width, box.height) * (1 + 2 * margin);
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  return resizeArea(frame, { x: cx - side / 2, y: cy - side / 2, width: side, height: side }, size, size);
}

/** JPEG bytes of an RGB image (quality 1-100). */
export function encodeJpeg(img: RgbImage, quality = 75): Buffer {
  const rgba = Buffer.alloc(img.width * img.height * 4);
  for (let i = 0, o = 0; i < img.data.length; i += 3, o += 4) {
    rgba[o] = img.data[i]!; rgba[o + 1] = img.data[i + 1]!; rgba[o + 2] = img.data[i + 2]!; rgba[o + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width: img.width, height: img.height }, quality).data;
}

/** Width and height of JPEG bytes (from the SOF marker), or undefined when they are not a JPEG. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    const len = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (marker >= 0xc0 && marker <= 0xc3) return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]! };
    i += 2 + len;
  }
  return undefined;
}
