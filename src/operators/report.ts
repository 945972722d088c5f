/**
 * `report`: the last element of every pipeline with `track`, added by the runner. It owns
 * each track's state (first and last seen, frames, best quality, flags, the smoothed
 * answers) and emits `track.started`, `track.updated` (at most every
 * `track.updateIntervalMs`) and `track.ended` once the frame's answers exist, so that an
 * update carries this frame's answers. Nothing before it emits track events or keeps
 * track state for them; it reads only what the earlier elements put on the item.
 */
import { addAnswers, newTrackAnswers, smoothedAnswers, type GradePolicy, type TrackAnswersAcc } from '../calculators/smooth.ts';
import type { TrackAttributesJson, TrackEnded } from '../events/types.ts';
import { encodeJpeg, faceThumbnail } from '../calculators/picture.ts';
import type { VisitorMatch } from '../calculators/visitors.ts';
import { recognitionChip } from '../models/faces/recognizer.ts';
import type { RgbImage } from '../calculators/warp.ts';
import type { ElementContext } from '../pipeline/registry.ts';
import { AGE_BINS } from '../models/attributes/labels.ts';
import type { AnalysedFrame, FaceObservation, FaceQuality, TrackInfo } from '../pipeline/types.ts';

interface TrackReport {
  id: number;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
  bestQuality?: FaceQuality;
  flags: Set<string>;
  lastUpdateEmitMs: number;
  answers?: TrackAnswersAcc;
  /** Faces of the track that passed the quality gate. */
  passed: number;
  /** The smoothed answers last emitted (the live view draws them between updates). */
  shown?: TrackAttributesJson;
  /** With `storage.snapshots`: the face at its best quality so far (memory only until the track ends). */
  thumb?: RgbImage;
  /** With `reid`: the recognition chip of that face (memory only; embedded once, at the end). */
  chip?: RgbImage;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const boxJson = (b: FaceObservation['box']) => ({ x: r1(b.x), y: r1(b.y), width: r1(b.width), height: r1(b.height) });
const qualityJson = (q: FaceQuality | undefined) => q && Object.fromEntries(Object.entries(q).map(([k, v]) => [k, r1(v)])) as unknown as FaceQuality;
/** Best = the largest sharp frontal face so far. */
const rank = (x: FaceQuality) => x.widthPx * Math.min(1, x.blur / 100) * Math.cos((x.yawDeg * Math.PI) / 180);

export function createReportStage(o: { updateIntervalMs: number; grading?: GradePolicy }, ctx: ElementContext) {
  const answersOf = (s: TrackReport) => smoothedAnswers(s.answers!, { ageBands: AGE_BINS, policy: o.grading, widthPx: s.bestQuality?.widthPx });
  const tracks = new Map<number, TrackReport>();
  const stateOf = (t: Pick<TrackInfo, 'id' | 'firstSeenMs'>, pts: number) => {
    let s = tracks.get(t.id);
    if (!s) {
      s = { id: t.id, firstSeenMs: t.firstSeenMs, lastSeenMs: pts, frames: 0, flags: new Set(), lastUpdateEmitMs: -Infinity, passed: 0 };
      tracks.set(t.id, s);
    }
    return s;
  };
  const ended = (t: TrackInfo, s: TrackReport, ptsMs: number, visitor?: VisitorMatch): Omit<TrackEnded, 'id' | 'v' | 'stream' | 'ts'> => ({
    type: 'track.ended', trackId: t.id, ptsMs, firstSeenMs: s.firstSeenMs, lastSeenMs: s.lastSeenMs, ...(visitor ? { visitor } : {}),
    dwellMs: s.lastSeenMs - s.firstSeenMs, frames: t.hits, bestQuality: qualityJson(s.bestQuality), flags: [...s.flags],
    ...(s.answers ? { attributes: answersOf(s) } : { noAttributes: s.passed ? 'unclassified' as const : 'quality' as const }),
  });
  return {
    async process(item: AnalysedFrame): Promise<AnalysedFrame> {
      const pts = item.frame.ptsMs;
      for (const t of item.tracks?.started ?? []) {
        const s = stateOf(t, pts);
        ctx.emit({
          type: 'track.started', trackId: t.id, ptsMs: pts, box: boxJson(t.box),
          landmarks: t.landmarks5.map(([x, y]) => [r1(x), r1(y)]), score: Math.round(t.score * 1000) / 1000,
        });
        s.lastUpdateEmitMs = pts;
      }
      const seen = item.faces.filter((f) => f.trackId != null && !f.predicted);
      for (const face of seen) {
        const s = stateOf({ id: face.trackId!, firstSeenMs: pts }, pts);
        s.lastSeenMs = pts;
        s.frames = face.trackHits ?? s.frames;
        for (const f of face.flags) s.flags.add(f);
        const q = face.quality;
        if (!face.skipped) s.passed++;
        if (q && !face.skipped && (!s.bestQuality || rank(q) > rank(s.bestQuality))) {
          s.bestQuality = q;
          if (ctx.snapshot) s.thumb = faceThumbnail(item.frame, face.box);
          if (ctx.visitors) s.chip = recognitionChip(item.frame, face.landmarks5);
        }
        if (face.attributes) addAnswers((s.answers ??= newTrackAnswers()), face.attributes);
      }
      for (const face of seen) {
        const s = tracks.get(face.trackId!)!;
        if (pts - s.lastUpdateEmitMs < o.updateIntervalMs) continue;
        s.lastUpdateEmitMs = pts;
        if (s.answers) s.shown = answersOf(s);
        ctx.emit({
          type: 'track.updated', trackId: s.id, ptsMs: pts, box: boxJson(face.box),
          landmarks: face.landmarks5.map(([x, y]) => [r1(x), r1(y)]), score: Math.round(face.score * 100) / 100,
          quality: qualityJson(s.bestQuality), flags: [...s.flags],
          ...(s.shown ? { attributes: s.shown } : {}),
        });
      }
      const answers = new Map<number, TrackAttributesJson>();
      for (const face of item.faces) {
        const shown = face.trackId != null ? tracks.get(face.trackId)?.shown : undefined;
        if (shown) answers.set(face.trackId!, shown);
      }
      item.answers = answers;
      for (const t of item.tracks?.ended ?? []) {
        const s = stateOf(t, pts);
        // which visitor: the face's embedding against those of the window (unique visitors)
        const visitor = s.chip && ctx.visitors ? await ctx.visitors.identify(s.chip, Date.now()) : undefined;
        const event = ctx.emit(ended(t, s, pts, visitor));
        if (s.thumb && event && ctx.snapshot) {
          try { ctx.snapshot(event.id, encodeJpeg(s.thumb, 80)); } catch { /* a thumbnail lost never stops the stream */ }
        }
        tracks.delete(t.id);
        ctx.count('tracks');
      }
      return item;
    },
  };
}
