/**
 * SA-softmax (docs/method.md §2): a classifier over N classes with an (N+1)-th output meaning
 * "unrecognizable". Pure functions: inference (class probabilities, confidence, grade)
 * and the dynamic-tag relabelling rule of the training algorithm.
 */
export type Grade = 'S' | 'A' | 'B' | 'C' | 'D';
export const GRADES: Grade[] = ['S', 'A', 'B', 'C', 'D'];

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Table 3-2: S 0.8-1.0, A 0.6-0.8, B 0.4-0.6, C 0.2-0.4, D 0.0-0.2. */
export function grade(confidence: number): Grade {
  return confidence >= 0.8 ? 'S' : confidence >= 0.6 ? 'A' : confidence >= 0.4 ? 'B' : confidence >= 0.2 ? 'C' : 'D';
}

export interface SaResult {
  /** Probabilities over the N real classes (a softmax over their logits alone). */
  probs: number[];
  /** argmax of probs. */
  value: number;
  /** 1 - p(unrecognizable) from the softmax over all N+1 outputs. */
  confidence: number;
  grade: Grade;
}

export function saSoftmax(logits: ArrayLike<number>): SaResult {
  const n = logits.length - 1;
  if (n < 2) throw new Error(`saSoftmax: need N+1 >= 3 logits, got ${logits.length}`);
  const all = softmax(logits);
  const probs = softmax(Array.from({ length: n }, (_, i) => logits[i]!));
  const value = probs.indexOf(Math.max(...probs));
  const confidence = 1 - all[n]!;
  return { probs, value, confidence, grade: grade(confidence) };
}

/**
 * The dynamic-tag rule, applied to each sample after a round of epochs.
 * - current label == true label: accuracy (share of predictions equal to the true label)
 *   >= 0.5 keeps it; < 0.5 relabels the sample as N (unrecognizable).
 * - current label == N: "accuracy" is decided here as the share of predictions that were
 *   N, i.e. how well the network has learnt to call the sample unrecognizable. >= 0.5
 *   keeps it there; < 0.5 restores the true label (look at it again).
 * Predictions are argmax over all N+1 outputs.
 */
export function nextTag(n: number, trueLabel: number, current: number, seen: number, correct: number): number {
  if (seen === 0) return current;
  const acc = correct / seen;
  if (current === trueLabel) return acc >= 0.5 ? current : n;
  return acc >= 0.5 ? n : trueLabel;
}
