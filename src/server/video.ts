/**
 * The live view (`dashboard.video: true`): while a dashboard watches a stream, its analysed
 * frames are scaled to `videoWidth`, encoded as JPEG and sent over socket.io with the faces
 * found in that same frame (box, track id, smoothed answers and grades). Picture and boxes
 * travel in one message, so the overlay is drawn on the very frame it was computed on: it
 * cannot run ahead of or behind the picture. What remains is the picture's own delay behind
 * the camera (decode to screen), which the message lets the page measure (`wallMs`, the
 * frame's decode time). Nothing is encoded while no one watches; at most `fps` frames a
 * second per stream.
 */
import type { Box } from '../calculators/geometry.ts';
import { encodeJpeg, scaleDown } from '../calculators/picture.ts';
import type { SmoothedClassJson } from '../events/types.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';

export interface VideoFace {
  box: Box;
  trackId?: number;
  /** Carried by the tracker on a frame without a matching detection. */
  predicted?: boolean;
  gender?: Pick<SmoothedClassJson, 'value' | 'grade'>;
  ageGroup?: Pick<SmoothedClassJson, 'value' | 'grade'>;
  age?: number;
}

/** The `frame` message of the live view. */
export interface VideoFrame {
  stream: string;
  ptsMs: number;
  /** When the frame was decoded (ms since the epoch, this server's clock). */
  wallMs: number;
  /** When it was sent. */
  sentMs: number;
  width: number;
  height: number;
  jpeg: Buffer;
  /** Boxes in the JPEG's pixels. */
  faces: VideoFace[];
}

export interface VideoTapOptions {
  fps: number;
  width: number;
  quality?: number;
  watching(stream: string): boolean;
  send(stream: string, frame: VideoFrame): void;
}

export interface VideoTap {
  /** Offers a stream's analysed item; encoded and sent only when someone watches and it is time. */
  offer(stream: string, item: AnalysedFrame): void;
  /** Forgets a stream that ended. */
  drop(stream: string): void;
  readonly stats: { encoded: number; encodeMs: number };
}

const r1 = (v: number) => Math.round(v * 10) / 10;
const pick = (c: SmoothedClassJson | undefined) => c && { value: c.value, grade: c.grade };

/** The message for one analysed frame (exported for tests). */
export function videoFrame(stream: string, item: AnalysedFrame, width: number, quality = 70): VideoFrame {
  const picture = scaleDown(item.frame, width);
  const k = picture.width / item.frame.width;
  const faces = item.faces.map((f): VideoFace => {
    const a = f.trackId != null ? item.answers?.get(f.trackId) : undefined;
    return {
      box: { x: r1(f.box.x * k), y: r1(f.box.y * k), width: r1(f.box.width * k), height: r1(f.box.height * k) },
      ...(f.trackId != null ? { trackId: f.trackId } : {}),
      ...(f.predicted ? { predicted: true } : {}),
      ...(a ? { gender: pick(a.gender), ageGroup: pick(a.ageGroup), ...(a.age != null ? { age: r1(a.age) } : {}) } : {}),
    };
  });
  return {
    stream, ptsMs: item.frame.ptsMs, wallMs: item.frame.wallMs, sentMs: Date.now(),
    width: picture.width, height: picture.height, jpeg: encodeJpeg(picture, quality), faces,
  };
}

export function createVideoTap(opts: VideoTapOptions): VideoTap {
  const last = new Map<string, number>();
  const stats = { encoded: 0, encodeMs: 0 };
  const interval = 1000 / opts.fps;
  return {
    stats,
    offer(stream, item) {
      if (!opts.watching(stream)) return;
      const now = Date.now();
      if (now - (last.get(stream) ?? -Infinity) < interval) return;
      last.set(stream, now);
      const t0 = performance.now();
      const frame = videoFrame(stream, item, opts.width, opts.quality);
      stats.encodeMs += performance.now() - t0;
      stats.encoded++;
      opts.send(stream, frame);
    },
    drop(stream) { last.delete(stream); },
  };
}
