/**
 * `detect`: faces with score, box and 5 landmarks on every `detectEvery`-th frame; in
 * between, the landmark net follows the faces already found (or the tracker carries them).
 *
 * @example
 *   - detect: { model: ssd, minScore: 0.5, detectEvery: 1 }
 */
import { z } from 'zod';
import type { Frame } from '../ingest/fromSource.ts';
import { loadDetector, type DetectedFace } from '../models/faces/detector.ts';
import { autoWorkers, openDetectorPool } from '../models/faces/pool.ts';
import { onnxEngine } from '../runtime/onnx.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';

export const detectOptions = z.strictObject({
  model: z.enum(['ssd', 'tiny', 'blazeface']).default('ssd').describe('ssd: best recall on small faces, slow; blazeface: about 9x faster than ssd (its box, face-api\'s 68 points); tiny: large faces only.'),
  inputSize: z.number().int().min(128).max(1024).default(416).describe('tiny only: network input size, a multiple of 32.'),
  minScore: z.number().min(0.05).max(0.99).optional(),
  landmarks: z.enum(['68', '68tiny']).default('68'),
  tiles: z.boolean().default(false).describe('blazeface only: also look at overlapping square tiles of a wide frame (smaller faces; two passes on 16:9).'),
  detectEvery: z.number().int().min(1).max(30).default(1).describe('Run the detector on every k-th frame; in between, faces are followed by the landmark net on their last box (`follow: true`, fresh points for alignment) or carried by the tracker\'s prediction (`follow: false`). New faces appear at the next detection.'),
  follow: z.boolean().default(true),
  workers: z.union([z.literal('auto'), z.number().int().min(0).max(8)]).default(0).describe('Detector worker threads shared by all streams of the process (0: on the main thread; auto: one per core, none on one core, none for blazeface on the native engine, whose runs use every core). Several streams then detect on several cores.'),
  modelDir: z.string().optional().describe('A folder with face-api weights in its format; by default the package\'s own.'),
});

/**
 * `workers: auto`: none for BlazeFace on the native engine, whose runs already use every
 * core (bench e2e capacity, 4 streams as fast as possible: 1 worker analysed 1.13-1.24x the
 * frames/s of none, at a higher p95; set it where throughput matters more than latency);
 * else one per core (pool.ts autoWorkers).
 */
export async function resolveWorkers(workers: 'auto' | number, model: string): Promise<number> {
  if (workers !== 'auto') return workers;
  return model === 'blazeface' && (await onnxEngine()) ? 0 : autoWorkers();
}

registerElement({
  name: 'detect',
  description: 'find faces, their boxes and 5 landmarks',
  options: detectOptions,
  reads: 'frames',
  create: async (o, ctx) => {
    const options = { kind: o.model, inputSize: o.inputSize, minScore: o.minScore, landmarks: o.landmarks, modelDir: o.modelDir, tiles: o.tiles };
    const workers = await resolveWorkers(o.workers, o.model);
    // one detector (or worker pool) per setting for all streams of the app, freed when it stops
    const detector = workers > 0
      ? await ctx.shared.get(`detect:pool:${JSON.stringify([options, workers])}`, () => openDetectorPool(options, workers), (p) => p.close())
      : await ctx.shared.get(`detect:${JSON.stringify(options)}`, () => loadDetector(options), (d) => d.dispose?.());
    let last: DetectedFace[] = [];
    let lastSeq = -1;
    return {
      async process(frame: Frame): Promise<AnalysedFrame> {
        // a detection is due every k frames, and after a gap (dropped frames, a restart)
        const due = frame.seq % o.detectEvery === 0 || frame.seq - lastSeq >= o.detectEvery || frame.seq < lastSeq;
        lastSeq = frame.seq;
        if (!due && !o.follow) return { frame, detected: false, faces: [] };
        last = due ? await detector.detect(frame) : last.length ? await detector.refine(frame, last) : [];
        if (!due) ctx.count('detect.followed', last.length);
        return { frame, detected: true, faces: last.map((f) => ({ ...f, flags: [] })) };
      },
    };
  },
});
