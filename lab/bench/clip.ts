/**
 * The benchmarks' 720p clip: `talking-d6.mp4` from the shared data (one real person, 480 px)
 * scaled to 720 px high and centred on a 1280x720 frame, 20 s, 30 fps, a keyframe every
 * second. Made once with ffmpeg into the cache (never committed); the same frames for
 * facestream and the peers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { dataDir } from '../../src/data.ts';
import { cacheDir } from '../../src/demo/clip.ts';
import { FacestreamError } from '../../src/errors.ts';
import { findFfmpeg } from '../../src/ingest/ffmpeg-path.ts';

export function benchClip(): string {
  const out = path.join(cacheDir(), 'bench-720p-v1.mp4');
  if (fs.existsSync(out)) return out;
  const src = path.join(dataDir(), 'video', 'talking-d6.mp4');
  if (!fs.existsSync(src)) throw new FacestreamError('FS_ERR_USAGE', `${src} not found: the benchmarks need the shared data (FACESTREAM_DATA)`);
  const tmp = `${out}.${process.pid}.tmp.mp4`;
  const r = spawnSync(findFfmpeg().path, ['-v', 'error', '-y', '-i', src, '-t', '20', '-vf', 'scale=-2:720,pad=1280:720:(ow-iw)/2:0',
    '-r', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-pix_fmt', 'yuv420p', '-an', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new FacestreamError('FS_ERR_USAGE', `could not make the benchmark clip: ${r.stderr || r.error?.message}`);
  fs.renameSync(tmp, out);
  return out;
}
