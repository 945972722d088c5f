/** What flows between the stages of a pipeline after ingest. */
import type { Box } from '../calculators/geometry.ts';
import type { Point } from '../calculators/similarity.ts';
import type { RgbImage } from '../calculators/warp.ts';
import type { Frame } from '../ingest/fromSource.ts';
import type { Attributes } from '../models/attributes/model.ts';
import type { TrackAttributesJson } from '../events/types.ts';

export interface FaceQuality {
  /** Box width in the analysed frame, pixels. */
  widthPx: number;
  /** Distance between the eye centres, pixels. */
  eyeDistPx: number;
  /** Variance of the Laplacian on a 48x48 aligned crop. */
  blur: number;
  yawDeg: number;
  rollDeg: number;
  score: number;
}

export type SkipReason = 'small' | 'blur' | 'pose' | 'score' | 'predicted';

/** A confirmed track as the tracker reports it on the frame it starts or ends. */
export interface TrackInfo {
  id: number;
  firstSeenMs: number;
  /** Detections matched to it so far. */
  hits: number;
  box: Box;
  landmarks5: Point[];
  score: number;
}

export interface FaceObservation {
  box: Box;
  score: number;
  landmarks5: Point[];
  /** Carried by the tracker on a frame without (matching) detection. */
  predicted?: boolean;
  /** The confirmed track this face belongs to (set by `track`). */
  trackId?: number;
  /** Detections matched to that track so far, this one included. */
  trackHits?: number;
  quality?: FaceQuality;
  flags: string[];
  /** Why the quality gate keeps this face from the attribute model. */
  skipped?: SkipReason;
  /** Taken back by `superres` although skipped (small and blurred: TRGAN's crop is classified). */
  rescued?: boolean;
  /** The aligned crop (memory only, never sent anywhere unless a setting asks). */
  crop?: RgbImage;
  /** This frame's answers of the attribute model. */
  attributes?: Attributes;
}

export interface AnalysedFrame {
  frame: Frame;
  /** Whether the detector ran on this frame (see detect.detectEvery). */
  detected: boolean;
  faces: FaceObservation[];
  /** Tracks confirmed and ended on this frame (set by `track`). */
  tracks?: { started: TrackInfo[]; ended: TrackInfo[] };
  /** Each seen track's smoothed answers so far (set by `report`; the live view draws them). */
  answers?: Map<number, TrackAttributesJson>;
  /** The item a stage's flush sends on at the end of the stream (open tracks end). */
  final?: boolean;
}
