import { describe, expect, it } from 'vitest';
import type { Frame } from '../ingest/fromSource.ts';
import type { DetectedFace, Detector } from '../models/faces/detector.ts';
import { getElement, sourceElement } from '../pipeline/registry.ts';
import { SharedResources } from '../pipeline/shared.ts';
import type { AnalysedFrame } from '../pipeline/types.ts';
import '../runner/elements.ts';

const frame = (seq: number): Frame => ({ source: 's', seq, ptsMs: seq * 200, wallMs: 0, width: 10, height: 10, data: new Uint8Array(300) });
const face: DetectedFace = { box: { x: 1, y: 1, width: 5, height: 5 }, score: 0.9, landmarks5: [[2, 2], [4, 2], [3, 3], [2, 4], [4, 4]] };

/** The detect element with a stand-in detector placed where the element looks for its detector (the app's shared resources). */
async function detectWith(options: object) {
  const calls: string[] = [];
  const fake = {
    options: {}, detect: async (f: Frame) => { calls.push(`detect ${f.seq}`); return [face]; },
    refine: async (f: Frame, faces: DetectedFace[]) => { calls.push(`refine ${f.seq}`); return faces; },
  } as unknown as Detector;
  const o = getElement('detect')!.options.parse({ model: 'blazeface', workers: 0, ...options }) as Record<string, unknown>;
  const shared = new SharedResources();
  const key = { kind: o.model, inputSize: o.inputSize, minScore: o.minScore, landmarks: o.landmarks, modelDir: o.modelDir, tiles: o.tiles };
  await shared.get(`detect:${JSON.stringify(key)}`, () => fake);
  const counts: Record<string, number> = {};
  const stage = await sourceElement('detect')!.create(o, { stream: 's', live: true, emit: () => {}, count: (n, by = 1) => { counts[n] = (counts[n] ?? 0) + by; }, shared });
  return { stage, calls, counts };
}

describe('detect', () => {
  it('runs the detector every detectEvery-th frame and follows the faces in between (follow: true)', async () => {
    const { stage, calls, counts } = await detectWith({ detectEvery: 2, follow: true });
    for (const seq of [0, 1, 2, 3, 4]) {
      const out = await stage.process(frame(seq));
      expect(out.detected).toBe(true);
      expect(out.faces).toHaveLength(1);
    }
    expect(calls).toEqual(['detect 0', 'refine 1', 'detect 2', 'refine 3', 'detect 4']);
    expect(counts['detect.followed']).toBe(2);
  });

  it('after a gap (dropped frames, a decoder restart) the next frame is detected, whatever its number', async () => {
    const { stage, calls } = await detectWith({ detectEvery: 3, follow: true });
    for (const seq of [0, 1, 5, 6, 2]) await stage.process(frame(seq));
    // 5 follows a gap of 4 (>= 3): detected; 6 is due (6 % 3); 2 went backwards (a restart): detected
    expect(calls).toEqual(['detect 0', 'refine 1', 'detect 5', 'detect 6', 'detect 2']);
  });

  it('follow: false leaves the frames between detections to the tracker (not detected, no faces)', async () => {
    const { stage, calls } = await detectWith({ detectEvery: 2, follow: false });
    const out = [] as AnalysedFrame[];
    for (const seq of [0, 1, 2]) out.push(await stage.process(frame(seq)));
    expect(calls).toEqual(['detect 0', 'detect 2']);
    expect(out.map((o) => o.detected)).toEqual([true, false, true]);
  });
});
