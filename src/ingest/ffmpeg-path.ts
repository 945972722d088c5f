/**
 * Finds an ffmpeg binary: `FFMPEG_PATH`, then the system's `ffmpeg`, then the static build
 * inside `@ffmpeg-installer/ffmpeg`. None found is a clear error that says how to get one.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { FacestreamError } from '../errors.ts';

const require = createRequire(import.meta.url);
let cached: { path: string; origin: string } | undefined;

function works(bin: string): boolean {
  try {
    const r = spawnSync(bin, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10_000 });
    return r.status === 0;
  } catch {
    return false;
  }
}

export function findFfmpeg(): { path: string; origin: string } {
  if (cached) return cached;
  const env = process.env.FFMPEG_PATH;
  if (env) {
    if (!fs.existsSync(env) || !works(env)) {
      throw new FacestreamError('FS_ERR_FFMPEG_NOT_FOUND', `FFMPEG_PATH=${env} is not a working ffmpeg; fix or unset it`);
    }
    return (cached = { path: env, origin: 'FFMPEG_PATH' });
  }
  if (works('ffmpeg')) return (cached = { path: 'ffmpeg', origin: 'system' });
  try {
    const pkg = require('@ffmpeg-installer/ffmpeg') as { path: string };
    if (works(pkg.path)) return (cached = { path: pkg.path, origin: '@ffmpeg-installer/ffmpeg' });
  } catch {
    // not installed: fall through to the error
  }
  throw new FacestreamError(
    'FS_ERR_FFMPEG_NOT_FOUND',
    'no ffmpeg found: install one (Debian/Ubuntu: apt-get install -y ffmpeg), or set FFMPEG_PATH, or npm install @ffmpeg-installer/ffmpeg',
  );
}
