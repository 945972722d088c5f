/**
 * Video in, frames out: `fromSource(uri, options)` decodes a file, `rtmp://` or `rtsp://`
 * source with ffmpeg (through fluent-ffmpeg) into RGB frames at the analysis rate.
 *
 * - Live sources start with low-latency probing and are restarted with exponential
 *   backoff when the decoder fails or the stream stalls (no frame for `stallTimeoutMs`),
 *   up to `maxRestarts` consecutive failures; then the Observable errors.
 * - Files end when the file ends; a file ffmpeg cannot read is an error that names it.
 * - Unsubscribing kills ffmpeg. Every decoder this process starts is also killed when the
 *   process exits, so no ffmpeg outlives facestream.
 *
 * @example
 *   fromSource('rtsp://cam/stream', { fps: 5, maxWidth: 960 }).subscribe((f) => f.width);
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { PassThrough } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { Observable } from 'rxjs';
import { FacestreamError } from '../errors.ts';
import { findFfmpeg } from './ffmpeg-path.ts';
import { PpmParser } from './ppm.ts';
import type { Flow } from './flow.ts';

export interface Frame {
  /** The source's name (the stream path or camera name). */
  source: string;
  /** 0, 1, 2, ... across restarts of a live source. */
  seq: number;
  /** Position on the analysis timeline: seq / fps. */
  ptsMs: number;
  /** Wall-clock time the frame was decoded (Date.now()). */
  wallMs: number;
  width: number;
  height: number;
  /** RGB bytes, row-major, width * height * 3. */
  data: Uint8Array;
}

export type SourceEvent =
  | { type: 'decoder.started'; pid: number | undefined; attempt: number; command: string }
  | { type: 'first-frame'; latencyMs: number; attempt: number }
  | { type: 'stalled'; afterMs: number }
  | { type: 'decoder.exited'; pid: number | undefined; reason: string }
  | { type: 'restarting'; attempt: number; delayMs: number; reason: string };

export interface SourceOptions {
  /** Name carried by every frame; defaults to the URI. */
  name?: string;
  /** Analysis rate in frames per second; 0 keeps the source's rate. Default 5. */
  fps?: number;
  /** Frames wider than this are scaled down (aspect kept). */
  maxWidth?: number;
  /** No frame for this long means stalled. Default 5000. */
  stallTimeoutMs?: number;
  /**
   * How long a live decoder (each start and restart) may wait for its first frame: it can
   * only start at a keyframe, and encoders send one every 10 s by default (x264's 250-frame
   * GOP, OBS's "auto"). Default: the larger of 15 s and `stallTimeoutMs`.
   */
  firstFrameTimeoutMs?: number;
  /** Consecutive failed (re)starts of a live source before giving up. Default 5; Infinity never gives up. */
  maxRestarts?: number;
  /** The URL to open, asked at every (re)start (for a signed URL that must stay fresh). Default: `uri`. */
  resolveUri?: () => string;
  /** First restart delay; doubles per consecutive failure. Default 500. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Read the input at its native frame rate (ffmpeg -re): a file played as a camera would send it. */
  realtime?: boolean;
  /** Live or not; by default rtmp/rtsp/http(s)/udp/srt URLs are live, paths are files. */
  live?: boolean;
  /** Restart a stalled live source (default) or end with FS_ERR_SOURCE_STALLED. */
  restartOnStall?: boolean;
  /** A live source that ends cleanly completes instead of reconnecting. */
  endOnEof?: boolean;
  /** Pause/resume from the consuming stage (files only pause; live drops downstream). */
  flow?: Flow;
  onEvent?: (e: SourceEvent) => void;
}

const LIVE = /^(rtmps?|rtsp|rtsps|https?|udp|srt|tcp):\/\//i;
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

/** Pids of the ffmpeg decoders this process is running now (for tests and metrics). */
export function activeDecoderPids(): number[] {
  return [...children].map((c) => c.pid).filter((p): p is number => p != null);
}

export function isLive(uri: string): boolean {
  return LIVE.test(uri);
}

function lastLine(text: string | undefined): string {
  const lines = (text ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.slice(-2).join(' | ') || 'no output';
}

/**
 * Why the decoder exited. A decoder killed by a signal (by an operator, the OOM killer or
 * a watchdog) says so: its stderr then holds only what it printed earlier, often a stale
 * warning that has nothing to do with its end.
 */
export function exitReason(err: Error, stderr: string | undefined): string {
  const signal = /killed with signal (\w+)/i.exec(err.message)?.[1];
  if (signal) return `decoder killed by ${signal}`;
  return `decoder failed: ${lastLine(stderr) !== 'no output' ? lastLine(stderr) : err.message}`;
}

/** Checks that a source can be opened at all (a file exists, a URL's scheme is known), before anything loads. */
export function checkSource(uri: string, opts: { live?: boolean } = {}): void {
  const live = opts.live ?? isLive(uri);
  if (live) return;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    throw new FacestreamError('FS_ERR_SOURCE_URI', `unsupported source URL ${uri}: use a file path, rtmp://, rtsp:// or http(s)://`);
  }
  let file = uri;
  if (uri.startsWith('file://')) {
    try { file = decodeURIComponent(new URL(uri).pathname); } catch { throw new FacestreamError('FS_ERR_SOURCE_URI', `${uri} is not a file URL`); }
  }
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch { throw new FacestreamError('FS_ERR_SOURCE_URI', `no such file: ${file}`); }
  if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice()) throw new FacestreamError('FS_ERR_SOURCE_URI', `${file} is not a video file`);
}

export function fromSource(uri: string, options: SourceOptions = {}): Observable<Frame> {
  const live = options.live ?? isLive(uri);
  const fps = options.fps ?? 5;
  if (!(fps >= 0 && fps <= 120)) throw new FacestreamError('FS_ERR_SOURCE_URI', `fps must be within 0..120, got ${fps}`);
  checkSource(uri, { live });
  const name = options.name ?? uri;
  const stallTimeoutMs = options.stallTimeoutMs ?? 5000;
  const firstFrameTimeoutMs = live ? options.firstFrameTimeoutMs ?? Math.max(15_000, stallTimeoutMs) : stallTimeoutMs;
  const maxRestarts = options.maxRestarts ?? 5;
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const restartOnStall = options.restartOnStall ?? true;
  const emit = options.onEvent ?? (() => {});
  const bin = findFfmpeg().path;
  installExitHook();

  const inputOptions = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
  if (options.realtime) inputOptions.push('-re');
  // low-latency probing for network sources only: on a file played in real time, low_delay
  // makes ffmpeg's H.264 decoder hold every frame of a clip with B-frames (no output at all)
  if (live && /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    inputOptions.push('-fflags', 'nobuffer', '-flags', 'low_delay', '-analyzeduration', '1000000', '-probesize', '500000');
    if (/^rtsps?:/i.test(uri)) inputOptions.push('-rtsp_transport', 'tcp', '-timeout', String(stallTimeoutMs * 1000));
    else if (/^rtmps?:/i.test(uri)) inputOptions.push('-rw_timeout', String(stallTimeoutMs * 1000));
  }
  const filters: string[] = [];
  if (fps > 0) filters.push(`fps=${fps}`);
  if (options.maxWidth) filters.push(`scale=w=min(iw\\,${Math.floor(options.maxWidth)}):h=-2`);
  const outputOptions = ['-an', '-sn', '-dn', ...(filters.length ? ['-vf', filters.join(',')] : []),
    '-pix_fmt', 'rgb24', '-f', 'image2pipe', '-c:v', 'ppm'];

  return new Observable<Frame>((subscriber) => {
    let stopped = false;
    let seq = 0;
    let failures = 0;
    let attempt = 0;
    let proc: ChildProcess | undefined;
    let out: PassThrough | undefined;
    let stallTimer: NodeJS.Timeout | undefined;
    let restartTimer: NodeJS.Timeout | undefined;
    let killedFor: string | undefined;
    const t0 = Date.now();
    let firstFrameSeen = false;

    const unFlow = options.flow?.onChange((paused) => {
      if (live || !out) return;
      if (paused) { out.pause(); clearTimeout(stallTimer); } else { out.resume(); armStall(); }
    });

    const kill = (why: string) => {
      killedFor = why;
      clearTimeout(stallTimer);
      if (proc && proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL');
    };

    // before a decoder's first frame it may wait for a keyframe; after it, frames come steadily
    let waitingFirst = true;
    let stalledAfterMs = stallTimeoutMs;
    const armStall = () => {
      clearTimeout(stallTimer);
      if (options.flow?.isPaused && !live) return;
      stalledAfterMs = waitingFirst ? firstFrameTimeoutMs : stallTimeoutMs;
      stallTimer = setTimeout(() => {
        emit({ type: 'stalled', afterMs: stalledAfterMs });
        kill('stalled');
      }, stalledAfterMs);
    };

    const onExit = (err: Error | undefined, stderr?: string) => {
      if (proc) children.delete(proc);
      const pid = proc?.pid;
      proc = undefined;
      clearTimeout(stallTimer);
      if (stopped) return;
      const why = killedFor;
      killedFor = undefined;
      const reason = why === 'stalled' ? `no frame for ${stalledAfterMs} ms`
        : err ? exitReason(err, stderr)
        : 'stream ended';
      emit({ type: 'decoder.exited', pid, reason });
      if (!live) {
        if (why === 'stalled') {
          subscriber.error(new FacestreamError('FS_ERR_SOURCE_STALLED', `${name}: ${reason}`));
        } else if (err) {
          subscriber.error(new FacestreamError('FS_ERR_SOURCE_FAILED', `cannot decode ${uri}: ${reason}`));
        } else {
          subscriber.complete();
        }
        return;
      }
      if (!err && !why && options.endOnEof) { subscriber.complete(); return; }
      if (why === 'stalled' && !restartOnStall) {
        subscriber.error(new FacestreamError('FS_ERR_SOURCE_STALLED', `${name}: ${reason}`));
        return;
      }
      failures++;
      if (failures > maxRestarts) {
        subscriber.error(new FacestreamError(
          'FS_ERR_SOURCE_FAILED',
          `${name}: gave up after ${maxRestarts} restarts (${reason}); check that ${uri} is reachable`,
        ));
        return;
      }
      const delayMs = Math.min(backoffMs * 2 ** (failures - 1), maxBackoffMs);
      emit({ type: 'restarting', attempt: failures, delayMs, reason });
      restartTimer = setTimeout(start, delayMs);
    };

    function start(): void {
      if (stopped) return;
      attempt++;
      const parser = new PpmParser();
      const startedAt = Date.now();
      let gotFrame = false;
      waitingFirst = true;
      const cmd = ffmpeg(options.resolveUri?.() ?? uri).setFfmpegPath(bin).inputOptions(inputOptions).outputOptions(outputOptions);
      let exited = false;
      const finish = (err?: Error, stderr?: string) => {
        if (exited) return;
        exited = true;
        onExit(err, stderr);
      };
      cmd.on('start', (line: string) => {
        proc = (cmd as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
        if (proc) children.add(proc);
        emit({ type: 'decoder.started', pid: proc?.pid, attempt, command: line });
        if (stopped) kill('stopped');
      });
      cmd.on('error', (err: Error, _stdout: string | null, stderr: string | null) => finish(err, stderr ?? undefined));
      cmd.on('end', () => finish());
      const stream = cmd.pipe() as PassThrough;
      out = stream;
      stream.on('error', () => { /* reported through the command's 'error' */ });
      stream.on('data', (chunk: Buffer) => {
        let images;
        try {
          images = parser.push(chunk);
        } catch (err) {
          kill('bad output');
          subscriber.error(new FacestreamError('FS_ERR_SOURCE_FAILED', `${name}: ${(err as Error).message}`));
          return;
        }
        for (const img of images) {
          if (stopped) return;
          if (!gotFrame) {
            gotFrame = true;
            waitingFirst = false;
            failures = 0;
            if (!firstFrameSeen || attempt > 1) emit({ type: 'first-frame', latencyMs: Date.now() - startedAt, attempt });
            firstFrameSeen = true;
          }
          armStall();
          const s = seq++;
          subscriber.next({
            source: name, seq: s, ptsMs: fps > 0 ? Math.round((s * 1000) / fps) : Date.now() - t0,
            wallMs: Date.now(), width: img.width, height: img.height, data: img.data,
          });
        }
      });
      if (options.flow?.isPaused && !live) stream.pause();
      armStall();
    }

    start();
    return () => {
      stopped = true;
      clearTimeout(restartTimer);
      unFlow?.();
      kill('stopped');
      if (proc) children.delete(proc);
    };
  });
}
