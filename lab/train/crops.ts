/**
 * Training and evaluation crops: every image goes through the live pipeline's face
 * path (face-api detector, the 68-point landmark net, the 5-point similarity alignment
 * of src/calculators/similarity.ts) to an aligned RGB crop. Cached outside git
 * (~/.cache/facestream/crops-v1/), keyed by the image list and the settings.
 *
 * The dataset images are face crops already, so the detector is the tiny one at a small
 * input size (the face fills the image). When it finds no face, the landmark net runs on
 * the whole image as the face box (method 'landmarks'); if that gives an implausible
 * geometry, the crop is the central square of the image (method 'center'). Each method
 * is counted.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { alignmentMatrix, similarityParams } from '../../src/calculators/similarity.ts';
import { warpAffine, type RgbImage } from '../../src/calculators/warp.ts';
import { cacheDir } from '../../src/demo/clip.ts';
import { loadDetector, type Detector } from '../../src/models/faces/detector.ts';

export type CropMethod = 'detector' | 'landmarks' | 'center';
export const METHODS: CropMethod[] = ['detector', 'landmarks', 'center'];

export interface CropSet {
  size: number;
  files: string[];
  /** N * size * size * 3 RGB bytes. */
  data: Uint8Array;
  /** Index into METHODS per image. */
  method: Uint8Array;
}

export async function decodeImage(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file}: decoded to ${info.channels} channels`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

function centerCrop(img: RgbImage, size: number): RgbImage {
  const side = Math.min(img.width, img.height);
  const s = size / side;
  const ox = (img.width - side) / 2, oy = (img.height - side) / 2;
  return warpAffine(img, [s, 0, -ox * s, 0, s, -oy * s], size, size);
}

/** A plausible alignment keeps the face at a scale like the image's own and upright. */
function plausible(m: ReturnType<typeof alignmentMatrix>, img: RgbImage, size: number): boolean {
  const { scale, rotationDeg } = similarityParams(m);
  const rel = (scale * Math.min(img.width, img.height)) / size;
  return rel > 0.6 && rel < 4 && Math.abs(rotationDeg) < 45;
}

export async function cropOne(detector: Detector, file: string, size: number, zoom = 1): Promise<{ crop: RgbImage; method: CropMethod }> {
  const img = await decodeImage(file);
  const faces = await detector.detect(img);
  if (faces.length) {
    const best = faces.reduce((a, b) => (b.box.width * b.box.height > a.box.width * a.box.height ? b : a));
    const m = alignmentMatrix(best.landmarks5, size, zoom);
    return { crop: warpAffine(img, m, size, size), method: 'detector' };
  }
  const lm = await detector.landmarksOnly(img);
  if (plausible(alignmentMatrix(lm, size), img, size)) return { crop: warpAffine(img, alignmentMatrix(lm, size, zoom), size, size), method: 'landmarks' };
  return { crop: centerCrop(img, size), method: 'center' };
}

export async function buildCrops(
  files: string[], opts: { size?: number; zoom?: number; name: string; onProgress?: (done: number, total: number) => void },
): Promise<CropSet> {
  const size = opts.size ?? 64;
  const zoom = opts.zoom ?? 1;
  // Keyed by absolute paths: the same folder given relatively or absolutely is one cache.
  const key = crypto.createHash('sha1').update(JSON.stringify({ v: 1, size, ...(zoom !== 1 ? { zoom } : {}), files: files.map((f) => path.resolve(f)) })).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir(), 'crops-v1');
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, `${opts.name}-${size}-${key}.bin`);
  const meta = `${bin}.methods`;
  const per = size * size * 3;
  if (fs.existsSync(bin) && fs.existsSync(meta)) {
    const data = new Uint8Array(fs.readFileSync(bin));
    const method = new Uint8Array(fs.readFileSync(meta));
    if (data.length === per * files.length && method.length === files.length) return { size, files, data, method };
  }
  const detector = await loadDetector({ kind: 'tiny', inputSize: 160, minScore: 0.3 });
  const data = new Uint8Array(per * files.length);
  const method = new Uint8Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const r = await cropOne(detector, files[i]!, size, zoom);
    data.set(r.crop.data, i * per);
    method[i] = METHODS.indexOf(r.method);
    if (i % 200 === 0 || i === files.length - 1) opts.onProgress?.(i + 1, files.length);
  }
  fs.writeFileSync(`${bin}.tmp`, data);
  fs.renameSync(`${bin}.tmp`, bin);
  fs.writeFileSync(meta, method);
  return { size, files, data, method };
}

export function methodCounts(set: CropSet): Record<CropMethod, number> {
  const c = { detector: 0, landmarks: 0, center: 0 };
  for (const m of set.method) c[METHODS[m]!]++;
  return c;
}
