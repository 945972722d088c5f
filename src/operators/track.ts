/**
 * `track`: stable ids across frames (SORT-like, src/calculators/tracker.ts). One person in
 * front of the camera is one track: reported once confirmed (`track.started`), at most
 * every `updateIntervalMs` (`track.updated`), and when gone for `maxAge` frames or the
 * stream ends (`track.ended`, with dwell time and the best quality seen).
 *
 * @example
 *   - track: { maxAge: 5, minHits: 2, updateIntervalMs: 1000 }
 */
import { z } from 'zod';
import { Tracker, type TrackedObject } from '../calculators/tracker.ts';
import type { TrackEnded } from '../events/types.ts';
import { registerElement, type ElementContext } from '../pipeline/registry.ts';
import type { AnalysedFrame, FaceObservation, FaceQuality, TrackState } from '../pipeline/types.ts';
import { trackAttributes } from './attributes.ts';

export const trackOptions = z.strictObject({
  iouThreshold: z.number().min(0.01).max(0.95).default(0.2),
  maxAge: z.number().int().min(0).max(300).default(5).describe('Analysed frames a track survives without a detection.'),
  minHits: z.number().int().min(1).max(30).default(2).describe('Detections before a track is reported.'),
  updateIntervalMs: z.number().int().min(0).max(600_000).default(1000).describe('Minimum time between two track.updated events of one track.'),
});

const r1 = (v: number) => Math.round(v * 10) / 10;
const boxJson = (b: FaceObservation['box']) => ({ x: r1(b.x), y: r1(b.y), width: r1(b.width), height: r1(b.height) });
const qualityJson = (q: FaceQuality | undefined) => q && Object.fromEntries(Object.entries(q).map(([k, v]) => [k, r1(v)])) as unknown as FaceQuality;

export function endedEvent(t: TrackState, ptsMs: number): Omit<TrackEnded, 'v' | 'stream' | 'ts'> {
  return {
    type: 'track.ended', trackId: t.id, ptsMs, firstSeenMs: t.firstSeenMs, lastSeenMs: t.lastSeenMs,
    dwellMs: t.lastSeenMs - t.firstSeenMs, frames: t.frames, bestQuality: qualityJson(t.bestQuality), flags: [...t.flags],
    ...(t.attributes ? { attributes: trackAttributes(t) } : {}),
  };
}

export function createTrackStage(o: z.infer<typeof trackOptions>, ctx: ElementContext) {
  const tracker = new Tracker<FaceObservation>({ iouThreshold: o.iouThreshold, maxAge: o.maxAge, minHits: o.minHits });
  const states = new Map<number, TrackState>();
  let index = 0;
  let lastPts = 0;
  const stateOf = (t: TrackedObject<FaceObservation>) => {
    let s = states.get(t.id);
    if (!s) {
      s = { id: t.id, firstSeenMs: t.firstSeenMs, lastSeenMs: t.lastSeenMs, frames: 0, flags: new Set(), lastUpdateEmitMs: -Infinity };
      states.set(t.id, s);
    }
    return s;
  };
  const emitEnded = (t: TrackedObject<FaceObservation>, ptsMs: number) => {
    const s = stateOf(t);
    ctx.emit(endedEvent(s, ptsMs));
    states.delete(t.id);
    ctx.count('tracks');
  };
  return {
    process(item: AnalysedFrame): AnalysedFrame {
      const pts = item.frame.ptsMs;
      lastPts = pts;
      const frameIndex = index++;
      if (!item.detected) {
        item.faces = tracker.predict(frameIndex).map(({ track, box }) => ({
          box, score: track.last.score, landmarks5: track.last.landmarks5, predicted: true, flags: [], track: stateOf(track),
        }));
        return item;
      }
      const u = tracker.update(item.faces, frameIndex, pts);
      const kept: FaceObservation[] = [];
      item.faces.forEach((face, i) => {
        const t = u.assigned[i]!;
        if (!t.confirmed) return; // tentative: not reported, not classified
        const s = stateOf(t);
        s.lastSeenMs = pts;
        s.frames = t.hits;
        face.track = s;
        kept.push(face);
      });
      for (const t of u.started) {
        const s = stateOf(t);
        ctx.emit({ type: 'track.started', trackId: t.id, ptsMs: pts, box: boxJson(t.box), landmarks: t.last.landmarks5.map(([x, y]) => [r1(x), r1(y)]), score: Math.round(t.last.score * 1000) / 1000 });
        s.lastUpdateEmitMs = pts;
      }
      for (const face of kept) {
        const s = face.track!;
        if (pts - s.lastUpdateEmitMs >= o.updateIntervalMs) {
          s.lastUpdateEmitMs = pts;
          ctx.emit({
            type: 'track.updated', trackId: s.id, ptsMs: pts, box: boxJson(face.box),
            landmarks: face.landmarks5.map(([x, y]) => [r1(x), r1(y)]), score: Math.round(face.score * 100) / 100,
            quality: qualityJson(s.bestQuality), flags: [...s.flags],
            ...(s.attributes ? { attributes: trackAttributes(s) } : {}),
          });
        }
      }
      for (const t of u.ended) emitEnded(t, pts);
      // faces of tracks that missed this frame but are still alive stay visible, predicted
      for (const { track, box } of tracker.predict(frameIndex)) {
        if (track.lastFrame === frameIndex) continue;
        kept.push({ box, score: track.last.score, landmarks5: track.last.landmarks5, predicted: true, flags: [], track: stateOf(track) });
      }
      item.faces = kept;
      return item;
    },
    flush() {
      for (const t of tracker.flush()) emitEnded(t, lastPts);
    },
  };
}

registerElement({
  name: 'track',
  description: 'stable track ids across frames; track.started/updated/ended events',
  options: trackOptions,
  create: (o, ctx) => createTrackStage(o, ctx),
});
