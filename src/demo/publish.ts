/**
 * Publishes a video file to an RTMP URL in real time, as a camera or OBS would
 * (`ffmpeg -re ... -c copy -f flv`). Used by `facestream demo` and by the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { findFfmpeg } from '../ingest/ffmpeg-path.ts';
import { createLogger } from '../log.ts';

const log = createLogger('publisher');

export interface Publisher {
  readonly pid: number | undefined;
  /** Resolves when the current ffmpeg exits. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * `encoder` picks the video encoding: `copy` (default), `fast` (x264 ultrafast, a keyframe a
 * second) or `obs` (x264's defaults with a keyframe every 10 s, as OBS sends by default).
 */
export function publish(file: string, url: string, opts: { loop?: boolean; restart?: boolean; reencode?: boolean; encoder?: 'copy' | 'fast' | 'obs' } = {}): Publisher {
  let child: ChildProcess | undefined;
  let stopped = false;
  let resolveExit!: (code: number | null) => void;
  let exited = new Promise<number | null>((r) => { resolveExit = r; });
  const encoder = opts.encoder ?? (opts.reencode ? 'fast' : 'copy');
  const codec = encoder === 'fast' ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25']
    : encoder === 'obs' ? ['-c:v', 'libx264', '-g', '250', '-pix_fmt', 'yuv420p']
    : ['-c', 'copy'];
  const run = () => {
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', ...(opts.loop ? ['-stream_loop', '-1'] : []),
      '-i', file, '-an', ...codec, '-f', 'flv', url];
    child = spawn(findFfmpeg().path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
    child.on('exit', (code) => {
      resolveExit(code);
      if (stopped || !opts.restart) return;
      log.warn(`publisher to ${url} exited (${code}): ${err.trim().split('\n').pop() ?? ''}; restarting in 1 s`);
      exited = new Promise<number | null>((r) => { resolveExit = r; });
      setTimeout(() => { if (!stopped) run(); }, 1000);
    });
  };
  run();
  return {
    get pid() { return child?.pid; },
    get exited() { return exited; },
    stop: async () => {
      stopped = true;
      if (child && child.exitCode == null && child.signalCode == null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
