/**
 * The versioned event schema: what integrators and the dashboard receive. Every event
 * has `id`, `v` (schema version), `type`, `stream` and `ts` (ms since the epoch).
 * Schema 1 only grows: fields are added, never renamed or removed (the JSON Schema in
 * schema/events.schema.json is generated from these types: `npm run schema`).
 */
export const EVENT_SCHEMA_VERSION = 1;

export interface EventBase {
  /**
   * `MS-SEQ`: strictly increasing per stream (src/events/ids.ts); resume a subscription or
   * page /api/events after it. The form of a Redis Stream entry id.
   * @pattern ^\d{1,16}-\d{1,16}$
   */
  id: string;
  v: typeof EVENT_SCHEMA_VERSION;
  /** The camera stream's name (an RTMP path such as live/door, or a pulled source's name). */
  stream: string;
  /** When it was emitted, ms since the epoch. */
  ts: number;
}
type Base = EventBase;

export interface StreamStarted extends Base { type: 'stream.started'; uri: string; pipeline: string; live: boolean }
export interface SizeJson { width: number; height: number }
/**
 * The video as analysed: emitted with the first frame (and again when the size changes,
 * after a restart). Every box and landmark of the stream's track events is in `frame`
 * pixels: the source scaled down to the pipeline's `maxWidth` when wider. `source` is
 * given when the frame is the source's own size (not scaled); otherwise the source was
 * wider than `frame.width` and keeps its aspect ratio.
 */
export interface StreamFormat extends Base { type: 'stream.format'; frame: SizeJson; source?: SizeJson }
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

export type StreamEvent = StreamStarted | StreamFormat | StreamStalled | StreamRestarting | StreamEnded | StreamError;

export interface BoxJson { x: number; y: number; width: number; height: number }
export interface QualityJson { widthPx: number; eyeDistPx: number; blur: number; yawDeg: number; rollDeg: number; score: number }

export interface SmoothedClassJson { value: string; probability: number; confidence: number; grade: 'S' | 'A' | 'B' | 'C' | 'D'; frames: number }
/** A track's attributes, smoothed over its frames by SA confidence. */
export interface TrackAttributesJson {
  /**
   * `value` and `probability`: the network's vote over the track, blended with face-api's
   * once face-api has looked (attributes.faceApiGenderShare); `confidence`, `grade` and
   * `frames`: the network's. `checks`: whether each gender check (attributes.checks:
   * 'network', 'face-api') said the same as the network over the track; `check`:
   * 'disagrees' when any did (the gender is then withheld, graded C at best). Both absent
   * when no check ran.
   */
  gender?: SmoothedClassJson & { check?: 'agrees' | 'disagrees'; checks?: Record<string, 'agrees' | 'disagrees'> };
  ageGroup?: SmoothedClassJson;
  /** Years: the network's, blended with face-api's once it has looked (attributes.faceApiAgeShare). */
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
  /**
   * Why `attributes` is absent: no face of the track passed the quality gate
   * (`quality`: too small, blurred or turned), or faces passed but none was classified
   * (`unclassified`: the track ended before its first answer, or the pipeline has no
   * attributes element).
   */
  noAttributes?: 'quality' | 'unclassified';
  firstSeenMs: number;
  lastSeenMs: number;
  dwellMs: number;
  /** Frames in which the face was detected. */
  frames: number;
  bestQuality?: QualityJson;
  flags: string[];
  attributes?: TrackAttributesJson;
  /**
   * Unique visitors (`reid`, on by default): the same `id` for the visits of one person
   * within `reid.windowMinutes` on this node (a random token; the face's embedding never
   * leaves the process); `returning` when this person was seen before in that window.
   * Absent when the track had no face good enough to compare.
   */
  visitor?: { id: string; returning: boolean };
}
export type TrackEvent = TrackStarted | TrackUpdated | TrackEnded;

/** Periodic per stream: the people whose track ended since the stream started. */
export interface StatsEvent extends Base {
  type: 'stats';
  since: number;
  /** Visits (tracks that ended) since `since`. */
  people: number;
  /** Unique visitors among them: visits not of a person seen within `reid.windowMinutes` before. */
  visitors: number;
  male: number;
  female: number;
  ageGroups: Record<string, number>;
  smilingShare: number | null;
  meanDwellMs: number | null;
  /** Tracks open now. */
  inView: number;
}

/**
 * A rule of `alerts` in the config raised or cleared (src/events/alerts.ts): people in
 * view, one person's dwell, a stream down, frames dropped.
 */
export interface AlertEvent extends Base {
  type: 'alert';
  /** The rule's name. */
  rule: string;
  when: 'inView' | 'dwellMs' | 'stalled' | 'dropRate';
  state: 'raised' | 'cleared';
  /** What was measured: people, ms, 1 (down) / 0, or the dropped share. */
  value: number;
  threshold?: number;
  /** For dwellMs: the person's track. */
  trackId?: number;
  /** Said for a person: what happened, with the numbers. */
  message: string;
}

export type FacestreamEvent = StreamEvent | TrackEvent | StatsEvent | AlertEvent;
export type EventType = FacestreamEvent['type'];
export const EVENT_TYPES: readonly EventType[] = ['stream.started', 'stream.format', 'stream.stalled', 'stream.restarting', 'stream.ended', 'stream.error', 'track.started', 'track.updated', 'track.ended', 'stats', 'alert'];

/** An event as the stream builds it, before the node gives it its id. */
export type UnidentifiedEvent = FacestreamEvent extends infer E ? E extends FacestreamEvent ? Omit<E, 'id'> : never : never;
/** The event of a type. */
export type EventOf<T extends EventType> = Extract<FacestreamEvent, { type: T }>;
