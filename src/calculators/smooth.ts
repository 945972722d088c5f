/**
 * Per-track smoothing of attribute answers: each frame's class probabilities are
 * averaged with its SA confidence as the weight (THESIS.md §2: the confidence is what
 * video smoothing should weigh by), so one doubtful frame does not flip an answer.
 * Pure functions over plain accumulators.
 */
import { grade, type Grade } from './sa.ts';

export interface ClassObs { probs: Record<string, number>; confidence: number }

export interface ClassAcc { weight: number; sums: Record<string, number>; confidenceSum: number; n: number }

export function newClassAcc(): ClassAcc {
  return { weight: 0, sums: {}, confidenceSum: 0, n: 0 };
}

/** `quality` (0..1) scales the weight of this frame as well. */
export function addClass(acc: ClassAcc, obs: ClassObs, quality = 1): void {
  const w = Math.max(1e-6, obs.confidence * quality);
  acc.weight += w;
  acc.confidenceSum += obs.confidence;
  acc.n++;
  for (const [k, p] of Object.entries(obs.probs)) acc.sums[k] = (acc.sums[k] ?? 0) + w * p;
}

export interface SmoothedClass { value: string; probability: number; confidence: number; grade: Grade; frames: number }

export function smoothedClass(acc: ClassAcc): SmoothedClass | undefined {
  if (!acc.n) return undefined;
  let value = '', best = -1;
  for (const [k, s] of Object.entries(acc.sums)) if (s > best) { best = s; value = k; }
  // the track's confidence: the mean frame confidence, grown by agreement over frames
  const confidence = acc.confidenceSum / acc.n;
  return { value, probability: best / acc.weight, confidence, grade: grade(confidence), frames: acc.n };
}

export interface ScalarAcc { weight: number; sum: number }
export function addScalar(acc: ScalarAcc, value: number, weight: number): void {
  acc.weight += weight;
  acc.sum += weight * value;
}
export const scalarMean = (acc: ScalarAcc) => (acc.weight ? acc.sum / acc.weight : undefined);
