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
  /** Present when the stream ended because of an error. */
  error?: { code: string; message: string };
}
export interface StreamError extends Base { type: 'stream.error'; code: string; message: string }

export type StreamEvent = StreamStarted | StreamStalled | StreamRestarting | StreamEnded | StreamError;
export type FacestreamEvent = StreamEvent;
