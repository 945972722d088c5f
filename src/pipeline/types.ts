/** What flows between the stages of a pipeline after ingest. */
import type { Box } from '../calculators/geometry.ts';
import type { Point } from '../calculators/similarity.ts';
import type { RgbImage } from '../calculators/warp.ts';
import type { Frame } from '../ingest/fromSource.ts';
import type { ClassAcc, ScalarAcc } from '../calculators/smooth.ts';
import type { Attributes } from '../models/attributes/model.ts';

export interface TrackAttributeAcc {
  gender: ClassAcc;
  ageGroup: ClassAcc;
  smiling: ClassAcc;
  age: ScalarAcc;
  celeba: Record<string, ScalarAcc>;
  lastClassifiedMs: number;
  /** The smoothed answers at the last classification, and for how many it has not changed. */
  answer: string;
  unchangedFor: number;
}

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

export interface TrackState {
  id: number;
  firstSeenMs: number;
  lastSeenMs: number;
  frames: number;
  bestQuality?: FaceQuality;
  /** 'small' once the face was ever below the small threshold. */
  flags: Set<string>;
  lastUpdateEmitMs: number;
  attributes?: TrackAttributeAcc;
}

export interface FaceObservation {
  box: Box;
  score: number;
  landmarks5: Point[];
  /** Carried by the tracker on a frame without (matching) detection. */
  predicted?: boolean;
  track?: TrackState;
  quality?: FaceQuality;
  flags: string[];
  /** Why the quality gate keeps this face from the attribute model. */
  skipped?: SkipReason;
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
}
