/**
 * `track`: stable ids across frames (SORT-like, src/calculators/tracker.ts). One person in
 * front of the camera is one track. This element only says which face is which track and
 * which tracks started or ended on this frame (`item.tracks`); `report`, the last element,
 * owns each track's state and emits the events once the frame's answers exist.
 *
 * @example
 *   - track: { maxAge: 5, minHits: 2, updateIntervalMs: 1000 }
 */
import { z } from 'zod';
import { Tracker, type TrackedObject } from '../calculators/tracker.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame, FaceObservation, TrackInfo } from '../pipeline/types.ts';
import type { GradePolicy } from '../calculators/smooth.ts';

/** Every rule of a grading policy given (GradePolicy leaves the newer ones optional). */
type FullGradePolicy = Required<Omit<GradePolicy, 'ageGroup'>> & { ageGroup: Partial<Pick<GradePolicy, 'sMinFrames' | 'sMinProbability' | 'sMinWidthPx' | 'withholdBelowPx'>> };

/** The grading calibrated on video for the shipped model (docs/models.md, "Grades on video"). */
export const GRADE_POLICY: FullGradePolicy = {
  sMinFrames: 2, sMinProbability: 0, sMinWidthPx: 121, withholdBelowPx: 69, genderMinAge: 13, withholdB: true, genderCheck: true, genderMinProbability: 0.8, ageGroup: { sMinProbability: 0.95, sMinWidthPx: 0 },
};

/**
 * The grading that changes nothing: every answer keeps its SA grade (`eval video
 * --raw-grades`, what lab/eval/calibrate.ts fits a rule on). Typed like GRADE_POLICY, so a
 * new rule cannot be added there without being turned off here.
 */
export const RAW_GRADING: FullGradePolicy = {
  sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderMinAge: 0, withholdB: false, genderCheck: false, genderMinProbability: 0, ageGroup: {},
};

export const trackOptions = z.strictObject({
  iouThreshold: z.number().min(0.01).max(0.95).default(0.2),
  maxAge: z.number().int().min(0).max(300).default(5).describe('Analysed frames a track survives without a detection.'),
  minHits: z.number().int().min(1).max(30).default(2).describe('Detections before a track is reported.'),
  updateIntervalMs: z.number().int().min(0).max(600_000).default(1000).describe('Minimum time between two track.updated events of one track.'),
  grading: z.strictObject({
    sMinFrames: z.number().int().min(1).max(1000).default(GRADE_POLICY.sMinFrames).describe('Frames an answer needs before it may be graded S: one look can be a mis-sized box (on the video evaluation, single-frame tracks on boxes 4-6 times the face, spanning it and the bodies below, got gender S wrong three times in 17 draws).'),
    sMinProbability: z.number().min(0).max(1).default(GRADE_POLICY.sMinProbability).describe('Share of the track\'s (confidence-weighted) votes its answer needs for S.'),
    sMinWidthPx: z.number().min(0).max(4000).default(GRADE_POLICY.sMinWidthPx).describe('Best face width (analysed frame, px) a track needs for S.'),
    withholdBelowPx: z.number().min(0).max(4000).default(GRADE_POLICY.withholdBelowPx).describe('Tracks whose best face is narrower are graded C at best (unsure: not in the aggregates at minGrade B).'),
    genderMinAge: z.number().min(0).max(120).default(GRADE_POLICY.genderMinAge).describe('Tracks whose age estimate is under this many years have their gender graded C at best (withheld): on the validation faces babies\' gender was right 0.76 of the time and children\'s 0.88 (0.84 and 0.90 at S), against 0.95-0.98 for adults. 0 turns it off.'),
    withholdB: z.boolean().default(GRADE_POLICY.withholdB).describe('Answers the SA confidence grades B are graded C (withheld): on the validation stills they were right little more often than chance (gender 0.63, smile 0.59, age group 0.60), on the video evaluation gender\'s 14 of 23. false keeps them at B.'),
    genderCheck: z.boolean().default(GRADE_POLICY.genderCheck).describe('A track whose gender one of the gender checks (attributes.checks) answers otherwise has its gender graded C at best (withheld): networks trained apart that disagree are unsure (docs/models.md has the figures). false keeps the grade.'),
    genderMinProbability: z.number().min(0).max(1).default(GRADE_POLICY.genderMinProbability).describe('A track whose gender probability is under this has it graded C at best (withheld): the share of its (confidence-weighted) votes, blended with face-api\'s once face-api has looked (attributes.faceApiGenderShare). Over seven video draws the counted answers under 0.8 of the votes were right 8 times of 13. 0 turns it off.'),
    ageGroup: z.strictObject({
      sMinFrames: z.number().int().min(1).max(1000).optional(),
      sMinProbability: z.number().min(0).max(1).optional(),
      sMinWidthPx: z.number().min(0).max(4000).optional(),
      withholdBelowPx: z.number().min(0).max(4000).optional(),
    }).default(GRADE_POLICY.ageGroup).describe('The age group\'s own rule where it differs from the others\' (its S is harder to earn).'),
  }).prefault({}).describe('What an answer needs for each grade beyond its SA confidence; the defaults are calibrated on video (facestream eval video, validation faces).'),
});

const info = (t: TrackedObject<FaceObservation>): TrackInfo => ({
  id: t.id, firstSeenMs: t.firstSeenMs, hits: t.hits, box: t.box, landmarks5: t.last.landmarks5, score: t.last.score,
});

export function createTrackStage(o: Omit<z.infer<typeof trackOptions>, 'grading'>) {
  const tracker = new Tracker<FaceObservation>({ iouThreshold: o.iouThreshold, maxAge: o.maxAge, minHits: o.minHits });
  let index = 0;
  let last: AnalysedFrame | undefined;
  const predictedFace = ({ track, box }: { track: TrackedObject<FaceObservation>; box: FaceObservation['box'] }): FaceObservation => ({
    box, score: track.last.score, landmarks5: track.last.landmarks5, predicted: true, flags: [], trackId: track.id,
  });
  return {
    process(item: AnalysedFrame): AnalysedFrame {
      last = item;
      const frameIndex = index++;
      if (!item.detected) {
        item.faces = tracker.predict(frameIndex).map(predictedFace);
        item.tracks = { started: [], ended: [] };
        return item;
      }
      const u = tracker.update(item.faces, frameIndex, item.frame.ptsMs);
      const kept: FaceObservation[] = [];
      item.faces.forEach((face, i) => {
        const t = u.assigned[i]!;
        if (!t.confirmed) return; // tentative: not reported, not classified
        face.trackId = t.id;
        face.trackHits = t.hits;
        kept.push(face);
      });
      // faces of tracks that missed this frame but are still alive stay visible, predicted
      for (const p of tracker.predict(frameIndex)) if (p.track.lastFrame !== frameIndex) kept.push(predictedFace(p));
      item.faces = kept;
      item.tracks = { started: u.started.map(info), ended: u.ended.map(info) };
      return item;
    },
    /** The stream ended: every open track ends, on an item the later elements see last. */
    flush(): AnalysedFrame | undefined {
      const ended = tracker.flush();
      if (!last || !ended.length) return undefined;
      return { frame: last.frame, detected: false, faces: [], tracks: { started: [], ended: ended.map(info) }, final: true };
    },
  };
}

registerElement({
  name: 'track',
  after: ['detect'],
  description: 'stable track ids across frames (which face is which person; report emits the track events)',
  options: trackOptions,
  create: (o) => createTrackStage(o),
});
