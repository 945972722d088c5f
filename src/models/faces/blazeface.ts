/**
 * BlazeFace (MediaPipe's back-camera model: 256x256 input, 896 anchors) as a face-box
 * proposer: the graph model ships inside `@vladmandic/human` (`models/blazeface.json`),
 * read from disk. Decoding is ours: the image (or each square tile of it) is padded to a
 * square and scaled to 256; the regressors are offsets from the anchor centres in input
 * pixels (box centre, width, height, then 6 keypoints), the scores are logits; greedy NMS
 * in JS over the few anchors above the score threshold, across tiles.
 *
 * The 5 alignment points still come from face-api's 68-point net on each box
 * (detector.ts), so crops are aligned as at training.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FacestreamError } from '../../errors.ts';
import { tf } from '../../runtime/index.ts';
import { iou, type Box } from '../../calculators/geometry.ts';
import type { RgbImage } from '../../calculators/warp.ts';
import type { OnnxSession } from '../../runtime/onnx.ts';

const require = createRequire(import.meta.url);

export function humanModelDir(): string {
  // @vladmandic/human's package.json "exports" has no "./package.json"; its main entry sits in dist/.
  let main: string;
  try {
    main = require.resolve('@vladmandic/human');
  } catch {
    throw new FacestreamError('FS_ERR_MODEL', 'detect.model blazeface needs the @vladmandic/human package (npm install)');
  }
  return path.join(path.dirname(main), '..', 'models');
}

export interface BlazeBox { score: number; box: Box; /** right eye, left eye, nose, mouth, right ear, left ear (image coordinates). */ keypoints: Array<[number, number]> }

export interface BlazeFace {
  readonly inputSize: number;
  detect(image: RgbImage, minScore: number, opts?: { tiles?: boolean; iou?: number; maxFaces?: number }): Promise<BlazeBox[]>;
  /** Frees the model's weights. */
  dispose(): void;
}

function anchors(size: number): Float32Array {
  const out: number[] = [];
  for (const [stride, perCell] of [[size / 16, 2], [size / 8, 6]] as const) {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let n = 0; n < perCell; n++) out.push(stride * (x + 0.5), stride * (y + 0.5));
      }
    }
  }
  return Float32Array.from(out);
}

/**
 * A square region of the frame (side `side` at x0, y0; black beyond the frame) scaled to
 * size x size, bilinear, as the network's [-1, 1] input. In JS on the bytes: on wasm,
 * tfjs' pad and resize of a 720p frame took 22 ms, the network itself 3.
 */
export function squareInput(image: RgbImage, x0: number, y0: number, side: number, size: number): Float32Array {
  const { width: w, height: h, data } = image;
  const scale = side / size;
  const out = new Float32Array(size * size * 3).fill(-1);
  const cols = Math.min(size, Math.ceil((w - x0) / scale)), rows = Math.min(size, Math.ceil((h - y0) / scale));
  // per output column: the two source byte offsets and the weight
  const xa = new Int32Array(cols), xb = new Int32Array(cols), fxs = new Float32Array(cols);
  for (let x = 0; x < cols; x++) {
    const sx = Math.min(x0 + x * scale, w - 1);
    const a = Math.floor(sx);
    xa[x] = a * 3; xb[x] = Math.min(a + 1, w - 1) * 3; fxs[x] = sx - a;
  }
  const k = 1 / 127.5;
  for (let y = 0; y < rows; y++) {
    const sy = Math.min(y0 + y * scale, h - 1);
    const ya = Math.floor(sy), fy = sy - ya;
    const ra = ya * w * 3, rb = Math.min(ya + 1, h - 1) * w * 3;
    let o = y * size * 3;
    for (let x = 0; x < cols; x++, o += 3) {
      const a = xa[x]!, b = xb[x]!, fx = fxs[x]!;
      for (let c = 0; c < 3; c++) {
        const p00 = data[ra + a + c]!, p01 = data[ra + b + c]!, p10 = data[rb + a + c]!, p11 = data[rb + b + c]!;
        const top = p00 + (p01 - p00) * fx;
        const bot = p10 + (p11 - p10) * fx;
        out[o + c] = (top + (bot - top) * fy) * k - 1;
      }
    }
  }
  return out;
}

/**
 * Square tiles covering the frame: one for a square frame, else ceil(long / short)
 * overlapping squares of the short side along the long one (a 16:9 frame: two). The
 * network sees faces 1.8x larger than on the whole frame letterboxed, for one more 3 ms
 * pass: small faces are found.
 */
export function tilesFor(width: number, height: number): Array<{ x: number; y: number; side: number }> {
  const short = Math.min(width, height), long = Math.max(width, height);
  const n = Math.ceil(long / short - 0.05);
  if (n <= 1) return [{ x: 0, y: 0, side: long }];
  const step = (long - short) / (n - 1);
  return Array.from({ length: n }, (_, i) => {
    const at = Math.round(i * step);
    return width >= height ? { x: at, y: 0, side: short } : { x: 0, y: at, side: short };
  });
}

/**
 * The network on a batch of square inputs (tiles of one frame): per tile the 896 score
 * logits (stride-16 anchors first) and their 16 regressors.
 */
type BlazeNet = (inputs: Float32Array[], size: number) => Promise<{ logits: Float32Array; regs: Float32Array }>;

/** The four outputs ([n,512,1] [n,512,16] stride 16 and [n,384,1] [n,384,16] stride 32), in any order, as one score and one regressor array per anchor. */
function arrange(outs: Array<{ data: Float32Array; dims: readonly number[] }>, tiles: number): { logits: Float32Array; regs: Float32Array } {
  const per = (o: { dims: readonly number[] }) => o.dims.slice(1).reduce((a, b) => a * b, 1);
  const bySize = [...outs].sort((a, b) => per(a) - per(b)); // 384x1, 512x1, 384x16, 512x16
  const [s32, s16, r32, r16] = bySize as [typeof outs[0], typeof outs[0], typeof outs[0], typeof outs[0]];
  const count = 896;
  const logits = new Float32Array(tiles * count), regs = new Float32Array(tiles * count * 16);
  for (let t = 0; t < tiles; t++) {
    logits.set(s16.data.subarray(t * 512, (t + 1) * 512), t * count);
    logits.set(s32.data.subarray(t * 384, (t + 1) * 384), t * count + 512);
    regs.set(r16.data.subarray(t * 512 * 16, (t + 1) * 512 * 16), t * count * 16);
    regs.set(r32.data.subarray(t * 384 * 16, (t + 1) * 384 * 16), (t * count + 512) * 16);
  }
  return { logits, regs };
}

/**
 * BlazeFace on the native engine: the graph converted from the same weights
 * (models/faces/blazeface.onnx), every tile of a frame in one run.
 */
export function blazeFaceOnnx(session: OnnxSession): BlazeFace {
  return withNet(256, async (inputs, size) => {
    const data = new Float32Array(inputs.length * size * size * 3);
    inputs.forEach((x, i) => data.set(x, i * size * size * 3));
    const out = await session.run({ [session.inputNames[0]!]: { data, dims: [inputs.length, size, size, 3] } });
    return arrange(Object.values(out), inputs.length);
  }, () => { void session.dispose(); });
}

function withNet(size: number, net: BlazeNet, dispose: () => void): BlazeFace {
  const anchorXY = anchors(size);
  const count = anchorXY.length / 2;
  return {
    inputSize: size,
    async detect(image, minScore, opts = {}) {
      const iouThreshold = opts.iou ?? 0.3, maxFaces = opts.maxFaces ?? 100;
      const tiles = opts.tiles ? tilesFor(image.width, image.height) : [{ x: 0, y: 0, side: Math.max(image.width, image.height) }];
      const { logits, regs } = await net(tiles.map((t) => squareInput(image, t.x, t.y, t.side, size)), size);
      const cut = Math.log(minScore / (1 - minScore));
      const candidates: number[] = [];
      for (let i = 0; i < logits.length; i++) if (logits[i]! > cut) candidates.push(i);
      const found: BlazeBox[] = candidates
        .sort((a, b) => logits[b]! - logits[a]!)
        .map((j) => {
          const tile = tiles[Math.floor(j / count)]!, i = j % count;
          const scale = tile.side / size;
          const ax = anchorXY[2 * i]!, ay = anchorXY[2 * i + 1]!;
          const r = (k: number) => regs[j * 16 + k]!;
          const px = (v: number) => tile.x + v * scale, py = (v: number) => tile.y + v * scale;
          const cx = px(ax + r(0)), cy = py(ay + r(1)), bw = r(2) * scale, bh = r(3) * scale;
          const keypoints: Array<[number, number]> = [];
          for (let k = 0; k < 6; k++) keypoints.push([px(ax + r(4 + 2 * k)), py(ay + r(5 + 2 * k))]);
          return { score: 1 / (1 + Math.exp(-logits[j]!)), box: { x: cx - bw / 2, y: cy - bh / 2, width: bw, height: bh }, keypoints };
        });
      const kept: BlazeBox[] = [];
      for (const f of found) {
        if (f.box.width <= 1 || f.box.height <= 1) continue;
        if (kept.every((k) => iou(k.box, f.box) < iouThreshold)) kept.push(f);
        if (kept.length >= maxFaces) break;
      }
      return kept;
    },
    dispose,
  };
}

/** Loads the model; its owner (the detector, kept in the app's shared resources) disposes it. */
export function loadBlazeFace(dir = humanModelDir()): Promise<BlazeFace> {
  return (async (): Promise<BlazeFace> => {
    const json = path.join(dir, 'blazeface.json');
    if (!fs.existsSync(json)) throw new FacestreamError('FS_ERR_MODEL', `face model ${json} is missing; reinstall @vladmandic/human`);
    let model: tf.GraphModel;
    try {
      const spec = JSON.parse(fs.readFileSync(json, 'utf8')) as { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
      const group = spec.weightsManifest[0]!;
      const bin = fs.readFileSync(path.join(dir, group.paths[0]!));
      model = await tf.loadGraphModel(tf.io.fromMemory({
        modelTopology: spec.modelTopology, weightSpecs: group.weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }));
    } catch (err) {
      throw new FacestreamError('FS_ERR_MODEL', `face model ${json} does not load (${(err as Error).message})`);
    }
    const size = model.inputs[0]?.shape?.[1] ?? 256;
    return withNet(size, async (inputs) => {
      // the graph's batch is fixed at 1: each tile alone, each output's tiles joined, then as the native path
      const joined = tf.tidy(() => {
        const outs = inputs.map((x) => model.execute(tf.tensor4d(x, [1, size, size, 3])) as tf.Tensor[]);
        return outs[0]!.map((_, k) => tf.concat(outs.map((o) => o[k]!)));
      });
      try {
        return arrange(await Promise.all(joined.map(async (t) => ({ data: (await t.data()) as Float32Array, dims: t.shape }))), inputs.length);
      } finally {
        tf.dispose(joined);
      }
    }, () => model.dispose());
  })();
}
