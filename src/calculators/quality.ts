/**
 * Face quality measures: blur (variance of the Laplacian on the grey crop), pose from
 * the 5 landmarks (roll from the eye line, yaw from the nose's offset between the eyes),
 * size. Pure functions.
 */
import type { Point } from './similarity.ts';
import type { RgbImage } from './warp.ts';

/** Variance of the 4-neighbour Laplacian of the grey image: low means blurred. */
export function laplacianVariance(img: RgbImage): number {
  const { width: w, height: h, data } = img;
  const g = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) g[i] = 0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]!;
  let sum = 0, sum2 = 0, n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = g[i - 1]! + g[i + 1]! + g[i - w]! + g[i + w]! - 4 * g[i]!;
      sum += l; sum2 += l * l; n++;
    }
  }
  if (!n) return 0;
  const mean = sum / n;
  return sum2 / n - mean * mean;
}

/**
 * Roll: angle of the eye line (degrees). Yaw: how far the nose tip sits from the middle
 * of the eyes, relative to half the eye distance, mapped to degrees (asin); 0 is frontal,
 * +/-90 a profile. A rough estimate, good enough to gate profiles out.
 */
export function poseFromLandmarks(l: Point[]): { yawDeg: number; rollDeg: number } {
  const [le, re, nose] = l as [Point, Point, Point];
  const dx = re[0] - le[0], dy = re[1] - le[1];
  const rollDeg = (Math.atan2(dy, dx) * 180) / Math.PI;
  const eyeDist = Math.hypot(dx, dy) || 1;
  // project the nose on the eye line, relative to the eyes' midpoint
  const mx = (le[0] + re[0]) / 2, my = (le[1] + re[1]) / 2;
  const t = ((nose[0] - mx) * dx + (nose[1] - my) * dy) / eyeDist;
  const r = Math.max(-1, Math.min(1, t / (eyeDist / 2)));
  return { yawDeg: (Math.asin(r) * 180) / Math.PI, rollDeg };
}
