import { describe, expect, it } from 'vitest';
import { alignmentMatrix, applyAffine, invertAffine, similarityParams, template, umeyama, type Affine, type Point } from './similarity.ts';
import { warpAffine, warpScale } from './warp.ts';
import { Tracker } from './tracker.ts';
import { clipToImage, iou, type Box } from './geometry.ts';
import { cropRgb } from './picture.ts';
import { laplacianVariance, poseFromLandmarks } from './quality.ts';

describe('similarity transform (Umeyama)', () => {
  it('recovers an exact similarity from synthetic points', () => {
    const src: Point[] = [[10, 20], [40, 22], [25, 35], [14, 50], [37, 51]];
    const s = 1.7, th = 0.4, tx = 12.5, ty = -3;
    const dst = src.map(([x, y]) => [s * Math.cos(th) * x - s * Math.sin(th) * y + tx, s * Math.sin(th) * x + s * Math.cos(th) * y + ty] as Point);
    const m = umeyama(src, dst);
    src.forEach((p, i) => {
      const q = applyAffine(m, p);
      expect(q[0]).toBeCloseTo(dst[i]![0], 9);
      expect(q[1]).toBeCloseTo(dst[i]![1], 9);
    });
    expect(similarityParams(m).scale).toBeCloseTo(s, 9);
    expect(similarityParams(m).rotationDeg).toBeCloseTo((th * 180) / Math.PI, 9);
    const back = applyAffine(invertAffine(m), dst[2]!);
    expect(back[0]).toBeCloseTo(src[2]![0], 9);
  });

  it('is the least-squares fit when points are noisy', () => {
    const t = template(112);
    const noisy = t.map(([x, y], i) => [x * 2 + 100 + (i % 2 ? 1 : -1), y * 2 + 50] as Point);
    const m = alignmentMatrix(noisy, 112);
    const err = noisy.reduce((e, p, i) => e + Math.hypot(applyAffine(m, p)[0] - t[i]![0], applyAffine(m, p)[1] - t[i]![1]), 0);
    expect(err / 5).toBeLessThan(0.6);
  });

  it('the template is consistent: eyes above the nose above the mouth, scaled to any size', () => {
    for (const size of [64, 112]) {
      const [le, re, nose, lm, rm] = template(size) as [Point, Point, Point, Point, Point];
      expect(le[1]).toBeLessThan(nose[1]);
      expect(nose[1]).toBeLessThan(lm[1]);
      expect(le[0]).toBeLessThan(re[0]);
      expect(lm[0]).toBeLessThan(rm[0]);
      expect(re[0]).toBeLessThan(size);
    }
  });

  it('a zoom below 1 frames the face wider: points move to the centre, the scale shrinks by the zoom', () => {
    const tight = template(64), wide = template(64, 0.8);
    tight.forEach(([x, y], i) => {
      expect(wide[i]![0] - 32).toBeCloseTo((x - 32) * 0.8, 9);
      expect(wide[i]![1] - 32).toBeCloseTo((y - 32) * 0.8, 9);
    });
    const lm: Point[] = [[70, 80], [130, 84], [99, 115], [76, 146], [124, 149]];
    const s1 = similarityParams(alignmentMatrix(lm, 64)).scale;
    expect(similarityParams(alignmentMatrix(lm, 64, 0.8)).scale).toBeCloseTo(s1 * 0.8, 6);
    expect(template(64, 1)).toEqual(template(64));
  });

  it('warps an image so that the landmarks land on the template', () => {
    // a synthetic 200x200 image with a bright dot at each landmark
    const lm: Point[] = [[70, 80], [130, 84], [99, 115], [76, 146], [124, 149]];
    const img = { width: 200, height: 200, data: new Uint8Array(200 * 200 * 3) };
    for (const [x, y] of lm) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const o = ((Math.round(y) + dy) * 200 + Math.round(x) + dx) * 3;
      img.data[o] = img.data[o + 1] = img.data[o + 2] = 255;
    }
    const crop = warpAffine(img, alignmentMatrix(lm, 64), 64, 64);
    expect(crop.data.length).toBe(64 * 64 * 3);
    const m = alignmentMatrix(lm, 64);
    for (const p of lm) {
      const [x, y] = applyAffine(m, p).map(Math.round) as Point;
      expect(crop.data[(y * 64 + x) * 3]).toBeGreaterThan(100);
    }
  });

  it('antialiases a warp that shrinks 1.5x or more, and leaves smaller shrinks as they were', () => {
    // 1-px black and white columns: shrunk 3x by single samples they alias into stripes
    // of pure black or white; averaged over the area each crop pixel covers they are grey
    const w = 192;
    const img = { width: w, height: w, data: new Uint8Array(w * w * 3) };
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) img.data.fill(x % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const shrink3 = [1 / 3, 0, 0, 0, 1 / 3, 0] as const;
    expect(warpScale([...shrink3])).toBeCloseTo(3, 6);
    const spread = (d: Uint8Array) => Math.max(...d) - Math.min(...d);
    const plain = warpAffine(img, [...shrink3], 64, 64);
    const smooth = warpAffine(img, [...shrink3], 64, 64, { antialias: true });
    expect(spread(plain.data.subarray(64 * 3 * 10, 64 * 3 * 11))).toBeGreaterThan(200);
    const row = smooth.data.subarray(64 * 3 * 10 + 3, 64 * 3 * 11 - 3); // inside the border
    expect(spread(row)).toBeLessThan(90);
    expect(Math.abs(row.reduce((a, v) => a + v, 0) / row.length - 127.5)).toBeLessThan(10);
    // a 1.2x shrink: the same bytes with and without
    const shrink12: Affine = [1 / 1.2, 0, 0, 0, 1 / 1.2, 0];
    expect(warpAffine(img, shrink12, 64, 64, { antialias: true }).data).toEqual(warpAffine(img, shrink12, 64, 64).data);
  });
});

describe('tracker', () => {
  const det = (x: number, y: number, w = 40): { box: Box } => ({ box: { x, y, width: w, height: w } });

  it('keeps ids on two faces whose paths cross', () => {
    const tr = new Tracker<{ box: Box }>({ minHits: 2, maxAge: 3 });
    const idsA = new Set<number>(), idsB = new Set<number>();
    for (let f = 0; f < 20; f++) {
      const a = det(10 + f * 10, 100), b = det(200 - f * 10, 104);
      const { assigned } = tr.update([a, b], f, f * 200);
      idsA.add(assigned[0]!.id);
      idsB.add(assigned[1]!.id);
    }
    expect(idsA.size).toBe(1);
    expect(idsB.size).toBe(1);
    expect([...idsA][0]).not.toBe([...idsB][0]);
  });

  it('survives an occlusion of a few frames, ends after maxAge, and a re-entry is a new track', () => {
    const tr = new Tracker<{ box: Box }>({ minHits: 2, maxAge: 3 });
    let id = 0;
    const ended: number[] = [];
    for (let f = 0; f < 30; f++) {
      const visible = f < 10 || (f >= 13 && f < 18) || f >= 25;
      const u = tr.update(visible ? [det(50 + f * 3, 60)] : [], f, f * 200);
      ended.push(...u.ended.map((t) => t.id));
      if (visible && f < 18) {
        if (id === 0) id = u.assigned[0]!.id;
        expect(u.assigned[0]!.id).toBe(id); // frames 10-12 occluded: same track after
      }
      if (f === 29) expect(u.assigned[0]!.id).not.toBe(id); // gone 7 frames: a new track
    }
    expect(ended).toEqual([id]);
    expect(tr.flush().map((t) => t.id)).toHaveLength(1);
  });

  it('does not report a one-frame false detection', () => {
    const tr = new Tracker<{ box: Box }>({ minHits: 2 });
    const u0 = tr.update([det(10, 10)], 0, 0);
    expect(u0.started).toHaveLength(0);
    const u1 = tr.update([], 1, 200);
    expect(u1.ended).toHaveLength(0);
    expect(tr.active).toHaveLength(0);
  });

  it('iou', () => {
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(1 / 3);
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 })).toBe(0);
  });
});

describe('quality measures', () => {
  it('blur: a sharp checkerboard scores far above its blurred copy', () => {
    const n = 32;
    const sharp = { width: n, height: n, data: new Uint8Array(n * n * 3) };
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) sharp.data.fill(((x >> 2) + (y >> 2)) % 2 ? 255 : 0, (y * n + x) * 3, (y * n + x) * 3 + 3);
    const flat = { width: n, height: n, data: new Uint8Array(n * n * 3).fill(128) };
    expect(laplacianVariance(sharp)).toBeGreaterThan(1000);
    expect(laplacianVariance(flat)).toBe(0);
  });

  it('pose: frontal is near 0, a turned head has yaw, a tilted one roll', () => {
    const frontal = poseFromLandmarks(template(112));
    expect(Math.abs(frontal.yawDeg)).toBeLessThan(3);
    expect(Math.abs(frontal.rollDeg)).toBeLessThan(1);
    const t = template(112);
    const turned = poseFromLandmarks([t[0]!, t[1]!, [t[1]![0] - 2, t[2]![1]], t[3]!, t[4]!]);
    expect(turned.yawDeg).toBeGreaterThan(45);
  });
});

describe('box cut from an image', () => {
  it('clipToImage rounds to whole pixels, clips to the image, and refuses what is under 4 px a side', () => {
    expect(clipToImage({ x: -3.4, y: 2.6, width: 10.2, height: 8 }, 20, 20)).toEqual({ x: 0, y: 3, width: 7, height: 8 });
    expect(clipToImage({ x: 15, y: 12, width: 10, height: 10 }, 20, 18)).toEqual({ x: 15, y: 12, width: 5, height: 6 });
    expect(clipToImage({ x: 15, y: 15, width: 10, height: 10 }, 20, 18)).toBeUndefined(); // 3 px high inside
    expect(clipToImage({ x: 30, y: 0, width: 10, height: 10 }, 20, 20)).toBeUndefined(); // outside
  });

  it('cropRgb copies the box\'s pixels row by row', () => {
    // a 4x3 image whose pixel (x, y) is (x, y, 7)
    const data = new Uint8Array(4 * 3 * 3);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) data.set([x, y, 7], (y * 4 + x) * 3);
    const c = cropRgb({ width: 4, height: 3, data }, { x: 1, y: 1, width: 2, height: 2 });
    expect([c.width, c.height]).toEqual([2, 2]);
    expect(Array.from(c.data)).toEqual([1, 1, 7, 2, 1, 7, 1, 2, 7, 2, 2, 7]);
  });
});
