/**
 * The face networks on the native engine: BlazeFace, face-api's 68-point landmark net and
 * its recognition net (unique visitors) as ONNX graphs (models/faces/, made by `facestream export onnx-faces` from the weights
 * inside @vladmandic/human and @vladmandic/face-api). A graph is used only while the
 * installed package's weight files still have the sha256 the manifest recorded (an
 * upgraded package falls back to its tfjs nets, with a warning), and only when the process
 * runs onnxruntime (src/runtime/onnx.ts).
 *
 * The landmark net's input is built as face-api builds it (the box's pixels padded to a
 * square with zeros, face-api's split of the padding, bilinear resize to 112 with
 * TensorFlow's corner convention) and its output read back as face-api does, so the
 * points are face-api's (checked within 0.05 px in test/faces-onnx.test.ts); every box of
 * a frame goes in one run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../data.ts';
import { log } from '../../log.ts';
import { onnxEngine, type OnnxSession } from '../../runtime/onnx.ts';
import type { Box } from '../../calculators/geometry.ts';
import type { RgbImage } from '../../calculators/warp.ts';
import { humanModelDir } from './blazeface.ts';

export const FACE_NETS_DIR = path.join(PROJECT_ROOT, 'models', 'faces');

interface NetEntry { file: string; sha256: string; source: { package: string; files: Record<string, string> } }

function packageDir(pkg: string, faceApiModelDir: string): string {
  return pkg === '@vladmandic/human' ? path.join(humanModelDir(), '..') : path.join(faceApiModelDir, '..');
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Why `net`'s graph in `dir` cannot stand for the installed package's weights, or undefined when it can. */
export type FaceNetName = 'blazeface' | 'landmarks68' | 'recognition';

const FILES: Record<FaceNetName, string> = { blazeface: 'blazeface.onnx', landmarks68: 'face_landmark_68.onnx', recognition: 'face_recognition.onnx' };

export function faceNetMismatch(net: FaceNetName, faceApiModelDir: string, dir = FACE_NETS_DIR): string | undefined {
  let entry: NetEntry | undefined;
  try {
    entry = (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { nets?: Record<string, NetEntry> }).nets?.[net];
  } catch (err) {
    return `${path.join(dir, 'manifest.json')} unreadable (${(err as Error).message})`;
  }
  if (!entry) return `${dir}/manifest.json has no ${net}`;
  const file = path.join(dir, entry.file);
  if (!fs.existsSync(file)) return `${file} missing`;
  if (sha(file) !== entry.sha256) return `${file} does not match its manifest`;
  const pdir = packageDir(entry.source.package, faceApiModelDir);
  for (const [rel, want] of Object.entries(entry.source.files)) {
    const f = path.join(pdir, rel);
    if (!fs.existsSync(f) || sha(f) !== want) return `${entry.source.package}'s ${rel} is not the file the graph was made from (another version installed?)`;
  }
  return undefined;
}

/** The ONNX sessions of the face nets this process can run natively (none without onnxruntime). */
export async function loadFaceNetsOnnx(o: Partial<Record<FaceNetName, boolean>> & { faceApiModelDir: string; dir?: string }): Promise<Partial<Record<FaceNetName, OnnxSession>>> {
  const engine = await onnxEngine();
  if (!engine) return {};
  const dir = o.dir ?? FACE_NETS_DIR;
  const out: Partial<Record<FaceNetName, OnnxSession>> = {};
  for (const net of ['blazeface', 'landmarks68', 'recognition'] as const) {
    if (!o[net]) continue;
    const why = faceNetMismatch(net, o.faceApiModelDir, dir);
    if (why) { log.warn(`face net ${net} runs on tfjs: ${why}; re-run facestream export onnx-faces`); continue; }
    out[net] = await engine.load(path.join(dir, FILES[net]));
  }
  return out;
}

export const LANDMARK_INPUT = 112;

/**
 * face-api's input for one box of the frame: the box's pixels (clipped to the frame) padded
 * to a square with zeros (round(diff / 2) after the image, the rest before), resized to 112
 * bilinearly (source = destination x in / out, the last pixel clamped), RGB 0-255.
 */
export function landmarkInput(image: RgbImage, box: { x0: number; y0: number; x1: number; y1: number }, out: Float32Array, at: number): { width: number; height: number } {
  const cw = box.x1 - box.x0, ch = box.y1 - box.y0;
  const side = Math.max(cw, ch);
  const diff = side - Math.min(cw, ch);
  const before = diff - Math.round(diff * 0.5);
  const ox = cw < ch ? before : 0, oy = ch < cw ? before : 0;
  const scale = side / LANDMARK_INPUT;
  const n = LANDMARK_INPUT;
  // per output column and row: the two source offsets in the frame's bytes (-1 in the padding) and the weight
  const axis = (inside: number, pad: number, origin: number, stride: number) => {
    const a = new Int32Array(n), b = new Int32Array(n), f = new Float32Array(n);
    const at = (i: number) => (i - pad >= 0 && i - pad < inside ? (origin + i - pad) * stride : -1);
    for (let i = 0; i < n; i++) {
      const v = Math.min(i * scale, side - 1);
      const lo = Math.floor(v), hi = Math.min(lo + 1, side - 1);
      a[i] = at(lo); b[i] = at(hi); f[i] = v - lo;
    }
    return { a, b, f };
  };
  const cols = axis(cw, ox, box.x0, 3), rows = axis(ch, oy, box.y0, image.width * 3);
  const d = image.data;
  for (let y = 0; y < n; y++) {
    const ra = rows.a[y]!, rb = rows.b[y]!, fy = rows.f[y]!;
    for (let x = 0; x < n; x++) {
      const ca = cols.a[x]!, cb = cols.b[x]!, fx = cols.f[x]!;
      const o = at + (y * n + x) * 3;
      for (let c = 0; c < 3; c++) {
        const p00 = ra >= 0 && ca >= 0 ? d[ra + ca + c]! : 0, p01 = ra >= 0 && cb >= 0 ? d[ra + cb + c]! : 0;
        const p10 = rb >= 0 && ca >= 0 ? d[rb + ca + c]! : 0, p11 = rb >= 0 && cb >= 0 ? d[rb + cb + c]! : 0;
        const top = p00 + (p01 - p00) * fx, bot = p10 + (p11 - p10) * fx;
        out[o + c] = top + (bot - top) * fy;
      }
    }
  }
  return { width: cw, height: ch };
}

/** The net's 136 outputs for a box of width x height -> 68 points in the box (face-api's postProcess). */
export function landmarkPoints(raw: Float32Array, width: number, height: number): Array<{ x: number; y: number }> {
  const scale = LANDMARK_INPUT / Math.max(width, height);
  const sw = width * scale, sh = height * scale;
  const padX = sw < sh ? Math.abs(sw - sh) / 2 : 0, padY = sh < sw ? Math.abs(sw - sh) / 2 : 0;
  const out: Array<{ x: number; y: number }> = [];
  for (let i = 0; i < 68; i++) {
    out.push({ x: ((raw[2 * i]! * LANDMARK_INPUT - padX) / sw) * width, y: ((raw[2 * i + 1]! * LANDMARK_INPUT - padY) / sh) * height });
  }
  return out;
}

/** The landmark net on every box in one run: the 68 points of each, in frame coordinates. */
export async function landmarksOnnx(session: OnnxSession, image: RgbImage, boxes: Box[]): Promise<Array<Array<{ x: number; y: number }>>> {
  if (!boxes.length) return [];
  const per = LANDMARK_INPUT * LANDMARK_INPUT * 3;
  const x = new Float32Array(boxes.length * per);
  const sizes = boxes.map((b, i) => landmarkInput(image, { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height }, x, i * per));
  const out = await session.run({ [session.inputNames[0]!]: { data: x, dims: [boxes.length, LANDMARK_INPUT, LANDMARK_INPUT, 3] } });
  const raw = out[session.outputNames[0]!]!.data;
  return boxes.map((b, i) => landmarkPoints(raw.subarray(i * 136, (i + 1) * 136), sizes[i]!.width, sizes[i]!.height).map((p) => ({ x: p.x + b.x, y: p.y + b.y })));
}
