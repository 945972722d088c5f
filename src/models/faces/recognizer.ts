/**
 * Face embeddings for counting unique visitors (`reid`): face-api's recognition net (a
 * ResNet-34 like dlib's, 128 numbers per face, weights in @vladmandic/face-api) on the
 * face's dlib-aligned chip. The embeddings stay in memory (src/calculators/visitors.ts);
 * they are never stored, logged or sent.
 */
import type { Point } from '../../calculators/similarity.ts';
import { resizeArea } from '../../calculators/picture.ts';
import type { RgbImage } from '../../calculators/warp.ts';
import { tf } from '../../runtime/index.ts';
import { faceApiModelDir, loadFaceApiNet } from './detector.ts';
import { loadFaceNetsOnnx } from './onnx.ts';
import { VisitorRegistry, type VisitorMatch } from '../../calculators/visitors.ts';
import { createLogger } from '../../log.ts';

const log = createLogger('visitors');

export const CHIP = 150;

export interface Recognizer {
  /** The 128-number embedding of a CHIP x CHIP face chip. */
  embed(chip: RgbImage): Promise<Float32Array>;
  /** Frees the net (its session or its tensors). */
  dispose(): void;
}

/**
 * The chip face-api's recognition net expects: dlib's alignment box (from the eyes and the
 * mouth: side = mean eye-to-mouth distance / 0.45, centred on their centroid, 0.43 of the
 * side above it), cut from the frame and scaled to CHIP x CHIP.
 */
export function recognitionChip(frame: RgbImage, landmarks5: Point[]): RgbImage {
  const [le, re, , ml, mr] = landmarks5 as [Point, Point, Point, Point, Point];
  const mouth: Point = [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2];
  const dist = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);
  const side = Math.max(8, Math.floor((dist(mouth, le) + dist(mouth, re)) / 2 / 0.45));
  const cx = (le[0] + re[0] + mouth[0]) / 3, cy = (le[1] + re[1] + mouth[1]) / 3;
  return resizeArea(frame, { x: cx - 0.5 * side, y: cy - 0.43 * side, width: side, height: side }, CHIP, CHIP);
}

export async function loadRecognizer(modelDir = faceApiModelDir()): Promise<Recognizer> {
  // the native engine's graph of the same weights when the process runs onnxruntime
  const { recognition } = await loadFaceNetsOnnx({ recognition: true, faceApiModelDir: modelDir });
  if (recognition) {
    return {
      async embed(chip) {
        if (chip.width !== CHIP || chip.height !== CHIP) throw new Error(`a recognition chip is ${CHIP}x${CHIP}, got ${chip.width}x${chip.height}`);
        const out = await recognition.run({ [recognition.inputNames[0]!]: { data: Float32Array.from(chip.data), dims: [1, CHIP, CHIP, 3] } });
        return Float32Array.from(out[recognition.outputNames[0]!]!.data);
      },
      dispose: () => void recognition.dispose(),
    };
  }
  const net = await loadFaceApiNet('recognition', modelDir);
  return {
    dispose: () => net.dispose(false),
    async embed(chip) {
      const input = tf.tensor3d(chip.data, [chip.height, chip.width, 3], 'int32');
      try {
        const out = await net.computeFaceDescriptor(input);
        return Array.isArray(out) ? out[0]! : out;
      } finally {
        input.dispose();
      }
    },
  };
}

/** What the `report` element asks at a track's end (ElementContext.visitors). */
export interface VisitorService {
  identify(chip: RgbImage, nowMs: number): Promise<VisitorMatch | undefined>;
  readonly registry: VisitorRegistry;
  /** Embeddings computed and their total time (ms). */
  readonly stats: { embedded: number; embedMs: number; failed: number };
  /** Forgets every embedding and frees the recognizer (the app's stop). */
  close(): Promise<void>;
}

/**
 * Unique visitors across the streams of one node (`reid`): the recognizer is loaded on the
 * first ended track; a face that cannot be embedded counts as a new visitor's.
 */
export function visitorService(opts: { windowMinutes: number; maxDistance: number; modelDir?: string }): VisitorService {
  const registry = new VisitorRegistry({ windowMs: opts.windowMinutes * 60_000, maxDistance: opts.maxDistance });
  let recognizer: Promise<Recognizer> | undefined;
  const stats = { embedded: 0, embedMs: 0, failed: 0 };
  let warned = false;
  return {
    registry, stats,
    async identify(chip, nowMs) {
      try {
        recognizer ??= loadRecognizer(opts.modelDir);
        const r = await recognizer;
        const t0 = performance.now();
        const e = await r.embed(chip);
        stats.embedMs += performance.now() - t0;
        stats.embedded++;
        return registry.identify(e, nowMs);
      } catch (err) {
        stats.failed++;
        if (!warned) log.warn(`unique visitors: a face could not be embedded (${(err as Error).message}); such tracks count as new visitors`);
        warned = true;
        const failed = recognizer;
        recognizer = undefined;
        void failed?.then((r) => r.dispose(), () => {});
        return undefined;
      }
    },
    async close() {
      registry.clear();
      const r = recognizer;
      recognizer = undefined;
      await r?.then((x) => x.dispose(), () => {});
    },
  };
}
