/**
 * `facestream bench detect`: every detector option on the same frames of the shared
 * clips (5 fps): recall on the single-person `talking-*` clips (frames with the face
 * found / frames), faces per frame on `pedestrians-1080p.mp4` (frames at most 1280 px
 * wide, as the default pipeline decodes them), and ms per frame.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { dataDir } from '../../src/data.ts';
import { fromSource, type Frame } from '../../src/ingest/fromSource.ts';
import { loadDetector, type DetectorOptions } from '../../src/models/faces/detector.ts';

export const DETECTOR_OPTIONS: DetectorOptions[] = [
  { kind: 'ssd' },
  { kind: 'blazeface' },
  { kind: 'blazeface', tiles: true },
  { kind: 'tiny', inputSize: 224 },
  { kind: 'tiny', inputSize: 320 },
  { kind: 'tiny', inputSize: 416 },
  { kind: 'tiny', inputSize: 608 },
];

export async function benchDetect(opts: { maxFramesPerClip?: number } = {}) {
  const dir = path.join(dataDir(), 'video');
  const talking = fs.readdirSync(dir).filter((f) => /^talking-.*\.mp4$/.test(f)).sort();
  const load = async (f: string, maxWidth?: number) =>
    (await lastValueFrom(fromSource(path.join(dir, f), { fps: 5, maxWidth }).pipe(toArray()))).slice(0, opts.maxFramesPerClip ?? Infinity);
  const talkingFrames: Frame[] = (await Promise.all(talking.map((f) => load(f)))).flat();
  const crowd = await load('pedestrians-1080p.mp4', 1280);
  const rows = [];
  for (const o of DETECTOR_OPTIONS) {
    const d = await loadDetector(o);
    let found = 0, ms = 0, crowdFaces = 0, crowdMs = 0;
    for (const f of talkingFrames) {
      const t0 = performance.now();
      if ((await d.detect(f)).length > 0) found++;
      ms += performance.now() - t0;
    }
    for (const f of crowd) {
      const t0 = performance.now();
      crowdFaces += (await d.detect(f)).length;
      crowdMs += performance.now() - t0;
    }
    rows.push({
      detector: o.kind === 'tiny' ? `tiny-${o.inputSize}` : o.tiles ? `${o.kind}-tiles` : o.kind,
      talkingRecall: Math.round((found / talkingFrames.length) * 1000) / 1000,
      talkingMsPerFrame: Math.round((ms / talkingFrames.length) * 10) / 10,
      crowdFacesPerFrame: Math.round((crowdFaces / crowd.length) * 100) / 100,
      crowdMsPerFrame: Math.round((crowdMs / crowd.length) * 10) / 10,
    });
  }
  return { talkingFrames: talkingFrames.length, crowdFrames: crowd.length, clips: talking, detectors: rows };
}
