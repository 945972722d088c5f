/**
 * `detect`: faces with score, box and 5 landmarks on every `detectEvery`-th frame (the
 * tracker carries faces in between).
 *
 * @example
 *   - detect: { model: ssd, minScore: 0.5, detectEvery: 1 }
 */
import { z } from 'zod';
import type { Frame } from '../ingest/fromSource.ts';
import { loadDetector } from '../models/faces/detector.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';

export const detectOptions = z.strictObject({
  /** ssd: best recall (small faces too); tiny: several times faster on large, close faces. */
  model: z.enum(['ssd', 'tiny']).default('ssd'),
  /** tiny only: network input size, a multiple of 32. */
  inputSize: z.number().int().min(128).max(1024).default(416),
  minScore: z.number().min(0.05).max(0.99).optional(),
  landmarks: z.enum(['68', '68tiny']).default('68'),
  detectEvery: z.number().int().min(1).max(30).default(1),
  /** A folder with face-api weights in its format; by default the package's own. */
  modelDir: z.string().optional(),
});

registerElement({
  name: 'detect',
  description: 'find faces, their boxes and 5 landmarks',
  options: detectOptions,
  create: async (o) => {
    const detector = await loadDetector({
      kind: o.model, inputSize: o.inputSize, minScore: o.minScore, landmarks: o.landmarks, modelDir: o.modelDir,
    });
    return {
      async process(frame: Frame): Promise<AnalysedFrame> {
        if (frame.seq % o.detectEvery !== 0) return { frame, detected: false, faces: [] };
        const faces = await detector.detect(frame);
        return { frame, detected: true, faces: faces.map((f) => ({ ...f, flags: [] })) };
      },
    };
  },
});
