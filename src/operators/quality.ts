/**
 * `quality`: measures each face (size, blur, pose, detection score) and gates faces out
 * of the attribute model; every skipped face is counted by reason. Small faces are kept
 * on their track and flagged 'small' (super-resolution handles them), only faces below
 * `minSize` are skipped.
 *
 * @example
 *   - quality: { minSize: 12, smallBelow: 48, maxYaw: 45, maxRoll: 35, minBlur: 15, minScore: 0.5 }
 */
import { z } from 'zod';
import { poseFromLandmarks, laplacianVariance } from '../calculators/quality.ts';
import { alignmentMatrix } from '../calculators/similarity.ts';
import { warpAffine } from '../calculators/warp.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame, FaceQuality, SkipReason } from '../pipeline/types.ts';

export const qualityOptions = z.strictObject({
  minSize: z.number().min(4).max(512).default(12).describe('Faces narrower than this (px in the analysed frame) are skipped.'),
  smallBelow: z.number().min(4).max(1024).default(48).describe('Faces narrower than this are flagged \'small\'.'),
  maxYaw: z.number().min(0).max(90).default(45),
  maxRoll: z.number().min(0).max(180).default(35),
  minBlur: z.number().min(0).default(15).describe('Minimum Laplacian variance on a 48x48 aligned crop.'),
  minScore: z.number().min(0).max(1).default(0.5),
});

registerElement({
  name: 'quality',
  after: ['detect'],
  description: 'size, blur and pose gate; skipped faces counted by reason',
  options: qualityOptions,
  create: (o, ctx) => ({
    process(item: AnalysedFrame): AnalysedFrame {
      for (const face of item.faces) {
        if (face.predicted) { face.skipped = 'predicted'; continue; }
        const [le, re] = face.landmarks5 as [[number, number], [number, number]];
        const pose = poseFromLandmarks(face.landmarks5);
        const crop = warpAffine(item.frame, alignmentMatrix(face.landmarks5, 48), 48, 48);
        const q: FaceQuality = {
          widthPx: face.box.width, eyeDistPx: Math.hypot(re[0] - le[0], re[1] - le[1]), blur: laplacianVariance(crop),
          yawDeg: pose.yawDeg, rollDeg: pose.rollDeg, score: face.score,
        };
        face.quality = q;
        if (q.widthPx < o.smallBelow) face.flags.push('small');
        const reason: SkipReason | undefined =
          q.widthPx < o.minSize ? 'small'
          : q.score < o.minScore ? 'score'
          : Math.abs(q.yawDeg) > o.maxYaw || Math.abs(q.rollDeg) > o.maxRoll ? 'pose'
          : q.blur < o.minBlur ? 'blur'
          : undefined;
        if (reason) {
          face.skipped = reason;
          ctx.count(`skipped.${reason}`);
          continue;
        }
        ctx.count('faces.passed');
      }
      return item;
    },
  }),
});
