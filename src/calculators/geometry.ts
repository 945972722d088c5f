/** Boxes: intersection over union and helpers. Pure functions. */
export interface Box { x: number; y: number; width: number; height: number }

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x), y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width), y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export function center(b: Box): [number, number] {
  return [b.x + b.width / 2, b.y + b.height / 2];
}

/** `b` on whole pixels, clipped to a width x height image; undefined when under 4 px a side. */
export function clipToImage(b: Box, width: number, height: number): Box | undefined {
  const x0 = Math.max(0, Math.round(b.x)), y0 = Math.max(0, Math.round(b.y));
  const x1 = Math.min(width, Math.round(b.x + b.width)), y1 = Math.min(height, Math.round(b.y + b.height));
  return x1 - x0 >= 4 && y1 - y0 >= 4 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : undefined;
}
