/**
 * Least-squares similarity transform (Umeyama, 1991) between point sets, and its use for
 * face alignment: rotation, uniform scale and translation that map the 5 landmarks onto a
 * template with the smallest squared error. Pure functions.
 */
export type Point = [number, number];
/** Row-major 2x3 affine matrix [a, b, tx, c, d, ty]: x' = a x + b y + tx, y' = c x + d y + ty. */
export type Affine = [number, number, number, number, number, number];

export function umeyama(src: Point[], dst: Point[]): Affine {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new Error(`umeyama: need two matching sets of >= 2 points (got ${n} and ${dst.length})`);
  let msx = 0, msy = 0, mdx = 0, mdy = 0;
  for (let i = 0; i < n; i++) { msx += src[i]![0]; msy += src[i]![1]; mdx += dst[i]![0]; mdy += dst[i]![1]; }
  msx /= n; msy /= n; mdx /= n; mdy /= n;
  // For a similarity in 2-D the optimum has closed form: with centred points,
  // a = sum(x.x' + y.y') / sum|x|^2 and b = sum(x.y' - y.x') / sum|x|^2 (scale * cos, scale * sin).
  let sxx = 0, num1 = 0, num2 = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i]![0] - msx, y = src[i]![1] - msy;
    const u = dst[i]![0] - mdx, v = dst[i]![1] - mdy;
    sxx += x * x + y * y;
    num1 += x * u + y * v;
    num2 += x * v - y * u;
  }
  if (sxx < 1e-12) throw new Error('umeyama: source points coincide');
  const a = num1 / sxx;
  const b = num2 / sxx;
  // x' = a x - b y + tx ; y' = b x + a y + ty
  return [a, -b, mdx - (a * msx - b * msy), b, a, mdy - (b * msx + a * msy)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-12) throw new Error('invertAffine: singular matrix');
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** Scale and rotation (degrees) of a similarity matrix. */
export function similarityParams(m: Affine): { scale: number; rotationDeg: number } {
  return { scale: Math.hypot(m[0], m[3]), rotationDeg: (Math.atan2(m[3], m[0]) * 180) / Math.PI };
}

/**
 * The 5-point template: the widely used one for 112x112 crops (left eye, right eye, nose
 * tip, left and right mouth corners, in image coordinates: "left" is the image's left).
 * docs/method.md §1's template puts the nose below the mouth (y 488 vs 370 on a 450 canvas),
 * a typo; this one is consistent (eyes 51.6, nose 71.7, mouth 92.3) and is scaled to any
 * crop size.
 */
export const TEMPLATE_112: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/**
 * The template for a crop of `size` pixels. `zoom` < 1 frames the face wider (the points
 * move towards the crop's centre by that factor): more hair, ears and chin in the crop, at
 * fewer pixels per face.
 */
export function template(size: number, zoom = 1): Point[] {
  const s = size / 112;
  const c = size / 2;
  return TEMPLATE_112.map(([x, y]) => [c + (x * s - c) * zoom, c + (y * s - c) * zoom]);
}

/** The matrix that maps frame coordinates to the aligned crop of `size` pixels. */
export function alignmentMatrix(landmarks5: Point[], size: number, zoom = 1): Affine {
  return umeyama(landmarks5, template(size, zoom));
}
