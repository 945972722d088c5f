/**
 * `align`: the similarity transform of the 5 landmarks onto the template
 * (src/calculators/similarity.ts) and a warp to a fixed-size crop, the attribute model's
 * input. Crops stay in memory.
 *
 * @example
 *   - align: { size: 64 }
 */
import { z } from 'zod';
import { alignmentMatrix } from '../calculators/similarity.ts';
import { warpAffine } from '../calculators/warp.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';

export const alignOptions = z.strictObject({
  size: z.number().int().min(16).max(512).default(64),
  /** Align skipped faces too (for inspection); by default only faces that passed quality. */
  all: z.boolean().default(false),
});

registerElement({
  name: 'align',
  description: 'aligned fixed-size face crops',
  options: alignOptions,
  create: (o) => ({
    process(item: AnalysedFrame): AnalysedFrame {
      for (const face of item.faces) {
        if (face.predicted || (face.skipped && !o.all)) continue;
        face.crop = warpAffine(item.frame, alignmentMatrix(face.landmarks5, o.size), o.size, o.size);
      }
      return item;
    },
  }),
});
