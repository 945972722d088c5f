import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { alignmentMatrix, applyAffine, template } from '../src/calculators/similarity.ts';
import { PROJECT_ROOT } from '../src/data.ts';
import { findFfmpeg } from '../src/ingest/ffmpeg-path.ts';
import { fromSource } from '../src/ingest/fromSource.ts';
import { faceApiModelDir, loadDetector } from '../src/models/faces/detector.ts';
import { tf } from '../src/runtime/index.ts';
import { video } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-faces-'));

function analyze(file: string, extra: string[] = []) {
  const r = spawnSync(process.execPath, [bin, 'analyze', file, '--fps', '5', '--json', ...extra], { encoding: 'utf8', timeout: 300_000 });
  const events = r.stdout.trim() ? r.stdout.trim().split('\n').map((l) => JSON.parse(l)) : [];
  return { status: r.status, stderr: r.stderr, events };
}

describe('faces on the shared clips', () => {
  it.each(['talking-d0.mp4', 'talking-d3.mp4', 'talking-d9.mp4', 'talking-d6.mp4'])(
    '%s: exactly one track, present in at least 95 percent of the analysed frames', (clip) => {
      const { status, events, stderr } = analyze(video(clip));
      expect(status, stderr).toBe(0);
      const ended = events.at(-1);
      const started = events.filter((e) => e.type === 'track.started');
      const trackEnds = events.filter((e) => e.type === 'track.ended');
      expect(started).toHaveLength(1);
      // integrators read the detector score as given: three decimals, no float residue
      expect(String(started[0].score)).toMatch(/^(0|1)(\.\d{1,3})?$/);
      expect(trackEnds).toHaveLength(1);
      expect(trackEnds[0].frames / ended.frames).toBeGreaterThanOrEqual(0.95);
      expect(ended.counters.tracks).toBe(1);
    });

  it('pedestrians-1080p: several tracks, small faces tracked and flagged', () => {
    const { status, events } = analyze(video('pedestrians-1080p.mp4'));
    expect(status).toBe(0);
    const ends = events.filter((e) => e.type === 'track.ended');
    expect(ends.length).toBeGreaterThanOrEqual(5);
    expect(ends.filter((e) => e.flags.includes('small')).length).toBeGreaterThanOrEqual(2);
    const ids = new Set(ends.map((e) => e.trackId));
    expect(ids.size).toBe(ends.length);
  });

  it.each([true, false])('detectEvery: 2 (follow: %s) keeps the face on one track between detections', (follow) => {
    const pipeline = path.join(tmp, `every2-${follow}.yaml`);
    fs.writeFileSync(pipeline, `name: every2\nelements:\n  - ingest: {}\n  - detect: { model: ssd, detectEvery: 2, follow: ${follow} }\n  - track: {}\n  - quality: {}\n  - align: {}\n`);
    const { status, events } = analyze(video('talking-d0.mp4'), ['--pipeline', pipeline]);
    expect(status).toBe(0);
    const ends = events.filter((e) => e.type === 'track.ended');
    expect(ends).toHaveLength(1);
    expect(ends[0].lastSeenMs).toBeGreaterThanOrEqual(2400); // followed to the end of the 3.1 s clip
    const followed = events.at(-1).counters['detect.followed'] ?? 0;
    if (follow) expect(followed).toBeGreaterThanOrEqual(6); // 16 frames, 8 between detections
    else expect(followed).toBe(0);
  });

  it('a video with no face ends cleanly with zero tracks', () => {
    const clip = path.join(tmp, 'noface.mp4');
    spawnSync(findFfmpeg().path, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=640x360:r=25:d=2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip]);
    const { status, events } = analyze(clip);
    expect(status).toBe(0);
    expect(events.filter((e) => e.type.startsWith('track.'))).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'stream.ended', frames: 10 });
  });

  it('a model file of the wrong shape is a clear error at start-up', () => {
    const dir = path.join(tmp, 'model');
    fs.cpSync(faceApiModelDir(), dir, { recursive: true });
    // weights of another net under the SSD detector's name
    fs.copyFileSync(path.join(dir, 'tiny_face_detector_model.bin'), path.join(dir, 'ssd_mobilenetv1_model.bin'));
    const pipeline = path.join(tmp, 'bad-model.yaml');
    fs.writeFileSync(pipeline, `name: bad\nelements:\n  - ingest: {}\n  - detect: { model: ssd, modelDir: ${JSON.stringify(dir)} }\n`);
    const { status, stderr, events } = analyze(video('talking-d0.mp4'), ['--pipeline', pipeline]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/FS_ERR_MODEL: face model .*ssd_mobilenetv1_model-weights_manifest\.json does not load/);
    expect(events.at(-1)).toMatchObject({ type: 'stream.ended', frames: 0 });
  });
});

describe('detector and alignment on real faces', () => {
  it('blazeface: one face on a close-up, points within 6% of the eye distance of ssd\'s; follows it; no tensor leaks', async () => {
    const ssd = await loadDetector({ kind: 'ssd' });
    const blaze = await loadDetector({ kind: 'blazeface', tiles: true });
    const frames = await lastValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }).pipe(take(3), toArray()));
    await blaze.detect(frames[0]!);
    const before = tf.memory().numTensors;
    const [a] = await ssd.detect(frames[0]!);
    const found = await blaze.detect(frames[0]!);
    expect(found).toHaveLength(1);
    const eyes = Math.hypot(a!.landmarks5[1]![0] - a!.landmarks5[0]![0], a!.landmarks5[1]![1] - a!.landmarks5[0]![1]);
    for (let k = 0; k < 5; k++) {
      const [x, y] = found[0]!.landmarks5[k]!, [u, v] = a!.landmarks5[k]!;
      expect(Math.hypot(x - u, y - v) / eyes).toBeLessThan(0.06);
    }
    const followed = await blaze.refine(frames[2]!, found);
    expect(followed).toHaveLength(1);
    expect(Math.abs(followed[0]!.box.width - found[0]!.box.width)).toBeLessThan(1e-6);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('blazeface tiles find the smaller faces of a 16:9 crowd that one pass misses', async () => {
    const frames = await lastValueFrom(fromSource(video('pedestrians-1080p.mp4'), { fps: 2, maxWidth: 1280 }).pipe(toArray()));
    const count = async (tiles: boolean) => {
      const d = await loadDetector({ kind: 'blazeface', tiles });
      let n = 0;
      for (const f of frames) n += (await d.detect(f)).length;
      return n;
    };
    const [one, tiled] = [await count(false), await count(true)];
    expect(tiled).toBeGreaterThan(one * 1.2);
  });

  it('each detector owns its face-api nets: another weights folder leaves it alone, and dispose frees them', async () => {
    const frame = await firstValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }));
    const warm = await loadDetector({ kind: 'ssd' });
    await warm.detect(frame); // the backend's first-use allocations
    warm.dispose!();
    const base = tf.memory().numTensors;
    const a = await loadDetector({ kind: 'ssd' });
    expect(tf.memory().numTensors).toBeGreaterThan(base);
    const [mine] = await a.detect(frame);
    // a second detector on other landmark weights (every 97th byte changed)
    const dir = path.join(tmp, 'other-landmarks');
    fs.cpSync(faceApiModelDir(), dir, { recursive: true });
    const file = path.join(dir, 'face_landmark_68_model.bin');
    const bytes = fs.readFileSync(file);
    for (let i = 0; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0x10;
    fs.writeFileSync(file, bytes);
    const other = await loadDetector({ kind: 'ssd', modelDir: dir });
    const [theirs] = await other.detect(frame);
    expect(theirs!.landmarks5).not.toEqual(mine!.landmarks5);
    expect(await a.detect(frame)).toEqual([mine]);
    other.dispose!();
    expect(await a.detect(frame)).toEqual([mine]);
    a.dispose!();
    expect(tf.memory().numTensors).toBe(base);
  });

  it('face-api\'s age and gender: one answer a face box, probabilities that sum to 1, the talking clip\'s woman female and an adult; a missing weights file is a clear error; no tensor leaks', async () => {
    const { loadFaceApiAgeGender } = await import('../src/models/attributes/faceapi-age-gender.ts');
    const { cropRgb } = await import('../src/calculators/picture.ts');
    const { clipToImage } = await import('../src/calculators/geometry.ts');
    const frame = await firstValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }));
    const detector = await loadDetector({ kind: 'blazeface' });
    const [face] = await detector.detect(frame);
    detector.dispose!();
    const cut = clipToImage(face!.box, frame.width, frame.height)!;
    const base = tf.memory().numTensors;
    const net = await loadFaceApiAgeGender();
    const crop = cropRgb(frame, cut);
    const [one] = await net.predict([crop]);
    expect(one!.gender.value).toBe('female');
    expect(one!.gender.probs.male + one!.gender.probs.female).toBeCloseTo(1, 5);
    expect(one!.gender.confidence).toBe(1); // face-api has no self-assessed confidence: each look weighs the same
    expect(one!.age).toBeGreaterThan(18); // an adult presenter
    expect(one!.age).toBeLessThan(70);
    const three = await net.predict([crop, crop, crop]);
    expect(three).toHaveLength(3);
    expect(three[2]!.gender.probs.female).toBeCloseTo(one!.gender.probs.female, 4);
    expect(three[2]!.age).toBeCloseTo(one!.age, 3);
    expect(await net.predict([])).toEqual([]);
    net.dispose();
    expect(tf.memory().numTensors).toBe(base);
    await expect(loadFaceApiAgeGender(tmp)).rejects.toThrow(/age_gender_model-weights_manifest\.json is missing/);
  });

  it('aligned eye centres land within 2 px of the template; no tensor leaks', async () => {
    const detector = await loadDetector({ kind: 'ssd' });
    const frame = await firstValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }));
    await detector.detect(frame); // warm-up allocations
    const before = tf.memory().numTensors;
    const faces = await detector.detect(frame);
    expect(tf.memory().numTensors).toBe(before);
    expect(faces).toHaveLength(1);
    for (const size of [64, 112]) {
      const m = alignmentMatrix(faces[0]!.landmarks5, size);
      const t = template(size);
      for (const i of [0, 1]) {
        const [x, y] = applyAffine(m, faces[0]!.landmarks5[i]!);
        expect(Math.hypot(x - t[i]![0], y - t[i]![1])).toBeLessThan(2);
      }
    }
  });
});
