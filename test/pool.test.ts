import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { fromSource } from '../src/ingest/fromSource.ts';
import { faceApiModelDir, loadDetector } from '../src/models/faces/detector.ts';
import { startDetectorPool } from '../src/models/faces/pool.ts';
import { tf } from '../src/runtime/index.ts';
import { video } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-pool-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('detector worker pool', () => {
  it('gives the same faces as the detector on the main thread, on two workers at once, leaving no tensor on the main thread', async () => {
    const frames = await lastValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }).pipe(take(4), toArray()));
    const local = await loadDetector({ kind: 'blazeface', tiles: true });
    const expected = [];
    for (const f of frames) expected.push(await local.detect(f));
    const before = tf.memory().numTensors;
    const pool = startDetectorPool({ kind: 'blazeface', tiles: true }, 2);
    try {
      await pool.ready();
      const got = await Promise.all(frames.map((f) => pool.detect(f)));
      for (let i = 0; i < frames.length; i++) {
        expect(got[i]).toHaveLength(1);
        expect(got[i]![0]!.box.x).toBeCloseTo(expected[i]![0]!.box.x, 3);
        expect(got[i]![0]!.landmarks5[0]![0]).toBeCloseTo(expected[i]![0]!.landmarks5[0]![0], 3);
      }
      const followed = await pool.refine(frames[1]!, got[0]!);
      expect(followed).toHaveLength(1);
      expect(frames[0]!.data.length).toBe(frames[0]!.width * frames[0]!.height * 3); // the caller's frame is untouched
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await pool.close();
    }
  });

  it('a model folder of the wrong shape fails the pool at start with FS_ERR_MODEL naming the file', async () => {
    const dir = path.join(tmp, 'model');
    fs.cpSync(faceApiModelDir(), dir, { recursive: true });
    fs.copyFileSync(path.join(dir, 'tiny_face_detector_model.bin'), path.join(dir, 'ssd_mobilenetv1_model.bin'));
    const pool = startDetectorPool({ kind: 'ssd', modelDir: dir }, 1);
    await expect(pool.ready()).rejects.toThrow(/ssd_mobilenetv1_model-weights_manifest\.json does not load/);
    await pool.close();
  });

  it('a bad request fails with the worker\'s reason; the worker goes on serving', async () => {
    const pool = startDetectorPool({ kind: 'blazeface' }, 1);
    try {
      await pool.ready();
      await expect(pool.detect({ width: 100, height: 100, data: new Uint8Array(10) })).rejects.toThrow(/detector worker: .*a 100x100 RGB image needs 30000 bytes, got 10/);
      const frame = (await lastValueFrom(fromSource(video('talking-d0.mp4'), { fps: 5 }).pipe(take(1), toArray())))[0]!;
      expect(await pool.detect(frame)).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });
});
