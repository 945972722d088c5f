/**
 * The demo clip, made by facestream itself from the sample photos that ship inside
 * `@vladmandic/face-api` (groups of people, several faces each): strips of those photos
 * move across a 1280x720 frame at three sizes, so faces appear large, medium and small.
 * No downloaded or committed third-party video.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { FacestreamError } from '../errors.ts';
import { findFfmpeg } from '../ingest/ffmpeg-path.ts';

const require = createRequire(import.meta.url);

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || (os.homedir() ? path.join(os.homedir(), '.cache') : os.tmpdir());
  const dir = path.join(base, 'facestream');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function samplePhotos(): string[] {
  const dir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
  return [1, 3, 6, 4].map((i) => path.join(dir, `sample${i}.jpg`));
}

export interface ClipOptions { seconds?: number; width?: number; height?: number; fps?: number }

/** Builds the clip at `out` (H.264, keyframe every second) and resolves with its path. */
export async function makeDemoClip(out: string, opts: ClipOptions = {}): Promise<string> {
  const seconds = opts.seconds ?? 20;
  const w = opts.width ?? 1280;
  const h = opts.height ?? 720;
  const fps = opts.fps ?? 25;
  const photos = samplePhotos();
  for (const p of photos) if (!fs.existsSync(p)) throw new FacestreamError('FS_ERR_USAGE', `demo photo missing: ${p}`);
  // Each strip: the upper part of a photo (where the faces are), scaled to a height, moving.
  const strips = [
    { crop: 'crop=iw:ih*0.45:0:ih*0.02', height: Math.round(h * 0.5), x: `mod(t*70\\,W+w)-w`, y: Math.round(h * 0.02) },
    { crop: 'crop=iw:ih*0.45:0:ih*0.15', height: Math.round(h * 0.3), x: `W-mod(t*110\\,W+w)`, y: Math.round(h * 0.55) },
    { crop: 'crop=iw:ih*0.40:0:ih*0.10', height: Math.round(h * 0.16), x: `mod(t*150+300\\,W+w)-w`, y: Math.round(h * 0.36) },
    { crop: 'crop=iw:ih*0.40:0:ih*0.05', height: Math.round(h * 0.1), x: `W-mod(t*90+500\\,W+w)`, y: Math.round(h * 0.87) },
  ];
  const parts: string[] = [];
  strips.forEach((s, i) => parts.push(`[${i + 1}:v]${s.crop},scale=-2:${s.height}[p${i}]`));
  let last = '0:v';
  strips.forEach((s, i) => {
    const outLabel = i === strips.length - 1 ? 'out' : `o${i}`;
    parts.push(`[${last}][p${i}]overlay=x='${s.x}':y=${s.y}:eval=frame[${outLabel}]`);
    last = outLabel;
  });
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=0x1d2733:s=${w}x${h}:r=${fps}:d=${seconds}`,
    ...photos.flatMap((p) => ['-loop', '1', '-framerate', String(fps), '-i', p]),
    '-filter_complex', parts.join(';'), '-map', '[out]', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(fps), '-r', String(fps), out,
  ];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.part.mp4`;
  args[args.length - 1] = tmp;
  await new Promise<void>((resolve, reject) => {
    const p = spawn(findFfmpeg().path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new FacestreamError('FS_ERR_USAGE', `making the demo clip failed: ${err.trim().split('\n').pop()}`))));
  });
  fs.renameSync(tmp, out);
  return out;
}

/** The cached demo clip, made on first use. */
export async function demoClip(): Promise<string> {
  const out = path.join(cacheDir(), 'demo-v1.mp4');
  if (fs.existsSync(out)) return out;
  return makeDemoClip(out);
}
