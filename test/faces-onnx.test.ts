/**
 * The face networks on the native engine against their tfjs originals, on the shared
 * clips: BlazeFace (with tiles) and the 68-point landmark net converted to ONNX give the
 * same faces (boxes within 1 px, alignment points within 0.05 px) and the same recall, the
 * recognition net the same embeddings;
 * a graph whose package weights changed is not used.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromSource, type Frame } from '../src/ingest/fromSource.ts';
import { faceApiModelDir, loadDetector, type DetectedFace, type Detector } from '../src/models/faces/detector.ts';
import { FACE_NETS_DIR, faceNetMismatch } from '../src/models/faces/onnx.ts';
import { loadRecognizer, recognitionChip } from '../src/models/faces/recognizer.ts';
import { resetEngineChoice } from '../src/runtime/onnx.ts';
import { onnxruntimeInstalled, video } from './helpers.ts';

let frames: Frame[] = [];
const detectors: Record<'tfjs' | 'onnx', Detector | undefined> = { tfjs: undefined, onnx: undefined };

async function detectorOn(engine: 'tfjs' | 'onnx'): Promise<Detector> {
  process.env.FACESTREAM_ENGINE = engine;
  resetEngineChoice();
  try {
    return await loadDetector({ kind: 'blazeface', tiles: true });
  } finally {
    delete process.env.FACESTREAM_ENGINE;
    resetEngineChoice();
  }
}

beforeAll(async () => {
  if (!onnxruntimeInstalled) return;
  const load = async (f: string, n: number, maxWidth?: number) => (await lastValueFrom(fromSource(video(f), { fps: 5, maxWidth }).pipe(toArray()))).slice(0, n);
  frames = [...(await load('talking-d0.mp4', 10)), ...(await load('talking-d9.mp4', 10)), ...(await load('pedestrians-1080p.mp4', 10, 1280))];
  detectors.tfjs = await detectorOn('tfjs');
  detectors.onnx = await detectorOn('onnx');
}, 180_000);

afterAll(() => { detectors.tfjs?.dispose?.(); detectors.onnx?.dispose?.(); });

describe.skipIf(!onnxruntimeInstalled)('face networks on onnxruntime (models/faces)', () => {
  it('find the faces tfjs finds: same boxes within 1 px, same 5 points within 0.05 px, same recall', async () => {
    expect(detectors.tfjs!.engine).toBe('tfjs');
    expect(detectors.onnx!.engine).toBe('onnxruntime');
    let facesTfjs = 0, facesOnnx = 0, matched = 0, worstBox = 0, worstPoint = 0;
    for (const f of frames) {
      const a: DetectedFace[] = await detectors.tfjs!.detect(f);
      const b: DetectedFace[] = await detectors.onnx!.detect(f);
      facesTfjs += a.length;
      facesOnnx += b.length;
      for (const x of a) {
        const y = b.find((c) => Math.abs(c.box.x - x.box.x) <= 1 && Math.abs(c.box.y - x.box.y) <= 1);
        if (!y) continue;
        matched++;
        worstBox = Math.max(worstBox, Math.abs(y.box.width - x.box.width), Math.abs(y.box.height - x.box.height), Math.abs(y.box.x - x.box.x), Math.abs(y.box.y - x.box.y));
        x.landmarks5.forEach((p, i) => { worstPoint = Math.max(worstPoint, Math.hypot(p[0] - y.landmarks5[i]![0], p[1] - y.landmarks5[i]![1])); });
      }
      // following faces without the detector (the landmark net on the previous boxes) agrees as well
      if (a.length) {
        const ra = await detectors.tfjs!.refine(f, a), rb = await detectors.onnx!.refine(f, a);
        expect(rb.length).toBe(ra.length);
        ra.forEach((x, i) => x.landmarks5.forEach((p, k) => { worstPoint = Math.max(worstPoint, Math.hypot(p[0] - rb[i]!.landmarks5[k]![0], p[1] - rb[i]!.landmarks5[k]![1])); }));
      }
    }
    expect(facesTfjs).toBeGreaterThan(20);
    expect(facesOnnx).toBe(facesTfjs);
    expect(matched).toBe(facesTfjs);
    expect(worstBox).toBeLessThanOrEqual(1);
    expect(worstPoint).toBeLessThan(0.05);
  });

  it('the recognition net (unique visitors) gives tfjs\' embeddings within 1e-4 on real faces\' chips', async () => {
    const on = async (engine: 'tfjs' | 'onnx') => {
      process.env.FACESTREAM_ENGINE = engine;
      resetEngineChoice();
      try { return await loadRecognizer(); } finally { delete process.env.FACESTREAM_ENGINE; resetEngineChoice(); }
    };
    const [a, b] = [await on('tfjs'), await on('onnx')];
    let chips = 0, worst = 0;
    for (const f of frames.filter((_, i) => i % 4 === 0)) {
      for (const face of await detectors.onnx!.detect(f)) {
        const chip = recognitionChip(f, face.landmarks5);
        const [x, y] = [await a.embed(chip), await b.embed(chip)];
        expect(y).toHaveLength(128);
        x.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - y[i]!)); });
        chips++;
      }
    }
    expect(chips).toBeGreaterThan(5);
    expect(worst).toBeLessThan(1e-4);
  });

  it('the shipped graphs match the installed packages; a changed package weight file is caught', () => {
    expect(faceNetMismatch('recognition', faceApiModelDir())).toBeUndefined();
    expect(faceNetMismatch('blazeface', faceApiModelDir())).toBeUndefined();
    expect(faceNetMismatch('landmarks68', faceApiModelDir())).toBeUndefined();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-facenets-'));
    fs.cpSync(FACE_NETS_DIR, dir, { recursive: true });
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    m.nets.landmarks68.source.files['model/face_landmark_68_model.bin'] = '0'.repeat(64);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    expect(faceNetMismatch('landmarks68', faceApiModelDir(), dir)).toMatch(/face_landmark_68_model\.bin is not the file the graph was made from/);
    fs.writeFileSync(path.join(dir, 'blazeface.onnx'), 'garbage');
    expect(faceNetMismatch('blazeface', faceApiModelDir(), dir)).toMatch(/blazeface\.onnx does not match its manifest/);
  });
});
