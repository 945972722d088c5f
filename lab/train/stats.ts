/**
 * How far an evaluation figure can be trusted: 95% intervals for accuracies measured on a
 * few thousand faces, and the paired comparison of two models on the same faces (which
 * one is right where the other is wrong). Pure functions.
 */

const Z95 = 1.959964;

/** Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Wilson score interval (95%) of a proportion: `correct` right out of `n`. */
export function wilson95(correct: number, n: number): [number, number] {
  if (n <= 0) return [0, 1];
  const p = correct / n;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [round4(Math.max(0, centre - half)), round4(Math.min(1, centre + half))];
}

/** Normal 95% interval of a mean from its samples (per-face scores). */
export function meanInterval95(xs: ArrayLike<number>): [number, number] {
  const n = xs.length;
  if (n < 2) return [0, 1];
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i]!;
  const m = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i]! - m) ** 2;
  const se = Math.sqrt(v / (n - 1) / n);
  return [round4(m - Z95 * se), round4(m + Z95 * se)];
}

export interface PairedComparison {
  n: number;
  /** Faces only the first model gets right, and only the second. */
  onlyFirst: number;
  onlySecond: number;
  /** Accuracy of the first minus the second, with its 95% interval. */
  difference: number;
  differenceCI95: [number, number];
  /** McNemar's test (continuity-corrected): the chance of a split this uneven if both were equally good. */
  pValue: number;
}

/** Two models' right/wrong on the same faces, in the same order. */
export function pairedComparison(first: boolean[], second: boolean[]): PairedComparison {
  if (first.length !== second.length) throw new Error(`pairedComparison: ${first.length} answers against ${second.length}; the faces must be the same`);
  const n = first.length;
  let b = 0, c = 0;
  for (let i = 0; i < n; i++) {
    if (first[i] && !second[i]) b++;
    else if (!first[i] && second[i]) c++;
  }
  const d = n ? (b - c) / n : 0;
  const se = n ? Math.sqrt(Math.max(0, b + c - (b - c) ** 2 / n)) / n : 0;
  const chi2 = b + c ? (Math.max(0, Math.abs(b - c) - 1) ** 2) / (b + c) : 0;
  return {
    n, onlyFirst: b, onlySecond: c, difference: round4(d),
    differenceCI95: [round4(d - Z95 * se), round4(d + Z95 * se)],
    pValue: b + c ? Number(erfc(Math.sqrt(chi2 / 2)).toPrecision(3)) : 1,
  };
}
