/**
 * The versioned event schema: what integrators and the dashboard receive. Every event
 * has `v` (schema version), `type`, `stream` and `ts` (ms since the epoch).
 */
export const EVENT_SCHEMA_VERSION = 1;

interface Base { v: typeof EVENT_SCHEMA_VERSION; stream: string; ts: number }

export interface StreamStarted extends Base { type: 'stream.started'; uri: string; pipeline: string; live: boolean }
export interface StreamStalled extends Base { type: 'stream.stalled'; afterMs: number }
export interface StreamRestarting extends Base { type: 'stream.restarting'; attempt: number; delayMs: number; reason: string }
export interface StreamEnded extends Base {
  type: 'stream.ended';
  frames: number;
  dropped: number;
  restarts: number;
  durationMs: number;
  /** Per-stage counts: tracks, faces.passed, skipped.<reason>, ... */
  counters: Record<string, number>;
  /** Present when the stream ended because of an error. */
  error?: { code: string; message: string };
}
export interface StreamError extends Base { type: 'stream.error'; code: string; message: string }

export type StreamEvent = StreamStarted | StreamStalled | StreamRestarting | StreamEnded | StreamError;

export interface BoxJson { x: number; y: number; width: number; height: number }
export interface QualityJson { widthPx: number; eyeDistPx: number; blur: number; yawDeg: number; rollDeg: number; score: number }

export interface SmoothedClassJson { value: string; probability: number; confidence: number; grade: 'S' | 'A' | 'B' | 'C' | 'D'; frames: number }
/** A track's attributes, smoothed over its frames by SA confidence. */
export interface TrackAttributesJson {
  gender?: SmoothedClassJson;
  ageGroup?: SmoothedClassJson;
  /** Years. */
  age?: number;
  smiling?: SmoothedClassJson;
  /** CelebA attribute -> mean probability. */
  celeba: Record<string, number>;
}

interface TrackBase extends Base {
  trackId: number;
  /** Position on the stream's timeline (ms), as `ptsMs` of the frame. */
  ptsMs: number;
}
export interface TrackStarted extends TrackBase {
  type: 'track.started';
  box: BoxJson;
  landmarks: Array<[number, number]>;
  score: number;
}
export interface TrackUpdated extends TrackBase {
  type: 'track.updated';
  box: BoxJson;
  landmarks: Array<[number, number]>;
  score: number;
  quality?: QualityJson;
  flags: string[];
  attributes?: TrackAttributesJson;
}
export interface TrackEnded extends TrackBase {
  type: 'track.ended';
  firstSeenMs: number;
  lastSeenMs: number;
  dwellMs: number;
  /** Frames in which the face was detected. */
  frames: number;
  bestQuality?: QualityJson;
  flags: string[];
  attributes?: TrackAttributesJson;
}
export type TrackEvent = TrackStarted | TrackUpdated | TrackEnded;

/** Periodic per stream: the people whose track ended since the stream started. */
export interface StatsEvent extends Base {
  type: 'stats';
  since: number;
  people: number;
  male: number;
  female: number;
  ageGroups: Record<string, number>;
  smilingShare: number | null;
  meanDwellMs: number | null;
  /** Tracks open now. */
  inView: number;
}

export type FacestreamEvent = StreamEvent | TrackEvent | StatsEvent;
