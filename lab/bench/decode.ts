/**
 * `facestream bench decode`: decoding cost of facestream's ingest against ffmpeg alone,
 * on the same 720p clip in one run, and the first-frame latency of a live RTMP stream.
 *
 * - ffmpegNullFps: `ffmpeg -i clip -f null -` frames per second (decode only).
 * - ffmpegRgbPipeFps: ffmpeg decoding, converting to RGB and writing into a pipe that
 *   Node drains: the floor of any reader of RGB frames.
 * - fromSourceFps: every frame of the same clip through `fromSource` (decode, RGB
 *   conversion, pipe, parse) frames per second; ratio = fromSourceFps / ffmpegNullFps.
 * - rtmpFirstFrameMs: from starting the reader on a stream being published to the first
 *   decoded frame, through node-media-server on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { lastValueFrom, count } from 'rxjs';
import { demoClip } from '../../src/demo/clip.ts';
import { findFfmpeg } from '../../src/ingest/ffmpeg-path.ts';
import { fromSource } from '../../src/ingest/fromSource.ts';

/** ffmpeg alone; `rgbPipe` also converts to RGB and writes it into a pipe that is drained. */
function ffmpegNull(file: string, rgbPipe = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const out = rgbPipe ? ['-pix_fmt', 'rgb24', '-f', 'image2pipe', '-c:v', 'ppm', 'pipe:1'] : ['-f', 'null', '-'];
    const p = spawn(findFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-an', ...out],
      { stdio: ['ignore', rgbPipe ? 'pipe' : 'ignore', 'ignore'] });
    p.stdout?.on('data', () => {});
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

export async function benchDecode(opts: { clip?: string; live?: boolean } = {}) {
  const clip = opts.clip ?? (await demoClip());
  const frames = 500; // the demo clip: 20 s at 25 fps
  await ffmpegNull(clip); // warm the page cache
  const nullMs = await ffmpegNull(clip);
  const pipeMs = await ffmpegNull(clip, true);
  const t0 = performance.now();
  const n = await lastValueFrom(fromSource(clip, { fps: 0 }).pipe(count()));
  const fromMs = performance.now() - t0;
  const result: Record<string, unknown> = {
    clip, width: 1280, height: 720, frames: n,
    ffmpegNullFps: Math.round((frames / nullMs) * 1000 * 10) / 10,
    ffmpegRgbPipeFps: Math.round((frames / pipeMs) * 1000 * 10) / 10,
    fromSourceFps: Math.round((n / fromMs) * 1000 * 10) / 10,
  };
  result.ratioToRgbPipe = Math.round((pipeMs / fromMs) * 1000) / 1000;
  result.ratio = Math.round(((n / fromMs) / (frames / nullMs)) * 1000) / 1000;
  if (opts.live !== false) {
    const { startApp } = await import('../../src/app.ts');
    const { parseAppConfig } = await import('../../src/config.ts');
    const { publish } = await import('../../src/demo/publish.ts');
    const app = await startApp(parseAppConfig({ rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, storage: { file: ':memory:' } }, 'bench'));
    const pub = publish(clip, `rtmp://127.0.0.1:${app.rtmpPort}/live/bench`, { loop: true });
    try {
      const until = Date.now() + 20_000;
      let latency: number | undefined;
      while (Date.now() < until && latency == null) {
        await new Promise((r) => setTimeout(r, 100));
        latency = app.plugin.streams.get('/live/bench')?.stats.firstFrameLatencyMs;
      }
      result.rtmpFirstFrameMs = latency ?? null;
    } finally {
      await pub.stop();
      await app.stop();
    }
  }
  return result;
}
