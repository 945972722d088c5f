/**
 * A SORT-like face tracker: each track predicts its box with constant velocity, new
 * detections are matched to predictions greedily by IoU (with a centre-distance fallback
 * for small, fast faces whose boxes no longer overlap), unmatched detections start
 * tentative tracks, a track is confirmed after `minHits` detections and ended after
 * `maxAge` consecutive frames without one. Pure: no RxJS, no I/O, no clock.
 */
import { iou, center, type Box } from './geometry.ts';

export interface TrackerOptions {
  /** Minimum IoU between a prediction and a detection to match. Default 0.2. */
  iouThreshold?: number;
  /** Frames a track survives without a matching detection. Default 5. */
  maxAge?: number;
  /** Detections before a track is confirmed (reported). Default 2. */
  minHits?: number;
}

export interface TrackedObject<D> {
  id: number;
  box: Box;
  /** Box velocity per frame: dx, dy, dw, dh. */
  velocity: [number, number, number, number];
  hits: number;
  /** Consecutive frames without a detection. */
  misses: number;
  confirmed: boolean;
  firstFrame: number;
  lastFrame: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** The last detection matched to this track. */
  last: D;
}

export interface TrackerUpdate<D> {
  /** For each detection (by index), its track. */
  assigned: Array<TrackedObject<D>>;
  /** Tracks confirmed in this update. */
  started: Array<TrackedObject<D>>;
  /** Confirmed tracks that ended in this update. */
  ended: Array<TrackedObject<D>>;
}

export class Tracker<D extends { box: Box }> {
  private readonly iouThreshold: number;
  private readonly maxAge: number;
  private readonly minHits: number;
  private tracks: Array<TrackedObject<D>> = [];
  private nextId = 1;
  private frame = -1;

  constructor(opts: TrackerOptions = {}) {
    this.iouThreshold = opts.iouThreshold ?? 0.2;
    this.maxAge = opts.maxAge ?? 5;
    this.minHits = opts.minHits ?? 2;
  }

  get active(): ReadonlyArray<TrackedObject<D>> {
    return this.tracks.filter((t) => t.confirmed);
  }

  private predicted(t: TrackedObject<D>, frame: number): Box {
    const dt = frame - t.lastFrame;
    const [vx, vy, vw, vh] = t.velocity;
    return {
      x: t.box.x + vx * dt, y: t.box.y + vy * dt,
      width: Math.max(1, t.box.width + vw * dt), height: Math.max(1, t.box.height + vh * dt),
    };
  }

  /** Boxes of the confirmed tracks as predicted for a frame without detection. */
  predict(frame: number): Array<{ track: TrackedObject<D>; box: Box }> {
    return this.active.map((t) => ({ track: t, box: this.predicted(t, frame) }));
  }

  /** One frame's detections. `frame` increases by 1 per analysed frame. */
  update(detections: D[], frame: number, tMs: number): TrackerUpdate<D> {
    if (frame <= this.frame) throw new Error(`tracker: frame ${frame} is not after ${this.frame}`);
    this.frame = frame;
    const pairs: Array<{ t: number; d: number; score: number }> = [];
    this.tracks.forEach((t, ti) => {
      const p = this.predicted(t, frame);
      const [pcx, pcy] = center(p);
      detections.forEach((det, di) => {
        const o = iou(p, det.box);
        if (o >= this.iouThreshold) { pairs.push({ t: ti, d: di, score: 1 + o }); return; }
        const [dcx, dcy] = center(det.box);
        const size = Math.max(p.width, det.box.width);
        const dist = Math.hypot(pcx - dcx, pcy - dcy);
        const ratio = det.box.width / p.width;
        if (dist < 0.6 * size && ratio > 0.6 && ratio < 1.6) pairs.push({ t: ti, d: di, score: 1 - dist / size });
      });
    });
    pairs.sort((a, b) => b.score - a.score);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    const assigned: Array<TrackedObject<D>> = new Array(detections.length);
    const started: Array<TrackedObject<D>> = [];
    for (const { t, d } of pairs) {
      if (usedT.has(t) || usedD.has(d)) continue;
      usedT.add(t);
      usedD.add(d);
      const tr = this.tracks[t]!;
      const det = detections[d]!;
      const dt = frame - tr.lastFrame;
      const nv: [number, number, number, number] = [
        (det.box.x - tr.box.x) / dt, (det.box.y - tr.box.y) / dt,
        (det.box.width - tr.box.width) / dt, (det.box.height - tr.box.height) / dt,
      ];
      // smooth the velocity: detections jitter by a few pixels
      tr.velocity = tr.hits > 1 ? tr.velocity.map((v, i) => 0.5 * v + 0.5 * nv[i]!) as typeof nv : nv;
      tr.box = { ...det.box };
      tr.hits++;
      tr.misses = 0;
      tr.lastFrame = frame;
      tr.lastSeenMs = tMs;
      tr.last = det;
      if (!tr.confirmed && tr.hits >= this.minHits) { tr.confirmed = true; started.push(tr); }
      assigned[d] = tr;
    }
    detections.forEach((det, d) => {
      if (usedD.has(d)) return;
      const tr: TrackedObject<D> = {
        id: this.nextId++, box: { ...det.box }, velocity: [0, 0, 0, 0], hits: 1, misses: 0,
        confirmed: this.minHits <= 1, firstFrame: frame, lastFrame: frame, firstSeenMs: tMs, lastSeenMs: tMs, last: det,
      };
      if (tr.confirmed) started.push(tr);
      this.tracks.push(tr);
      assigned[d] = tr;
    });
    const ended: Array<TrackedObject<D>> = [];
    this.tracks = this.tracks.filter((t) => {
      if (t.lastFrame !== frame) t.misses = frame - t.lastFrame;
      const tooOld = t.misses > this.maxAge || (!t.confirmed && t.misses > 0);
      if (tooOld && t.confirmed) ended.push(t);
      return !tooOld;
    });
    return { assigned, started, ended };
  }

  /** Ends every track (the stream ended); returns the confirmed ones. */
  flush(): Array<TrackedObject<D>> {
    const ended = this.active.slice();
    this.tracks = [];
    return ended;
  }
}
