import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDir } from '../../src/data.ts';
import { initRuntime } from '../../src/runtime/index.ts';
import type { FacestreamEvent } from '../../src/events/types.ts';
import { evalPipeline, evalVideo, faceAt, layout, scoreClip, type ClipTruth, type TruthFace } from './video.ts';
import { policyGrade } from '../../src/calculators/smooth.ts';
import { GRADE_POLICY, RAW_GRADING } from '../../src/operators/track.ts';

const faces: TruthFace[] = [
  { id: 0, file: 'a', gender: 'female', age: 25, ageGroup: 'youth' },
  { id: 1, file: 'b', gender: 'male', age: 45, ageGroup: 'middle-aged' },
  { id: 2, file: 'c', gender: 'male', age: 8, ageGroup: 'child' },
  { id: 3, file: 'd', gender: 'female', age: 70, ageGroup: 'old' },
];
const cls = (value: string, grade: 'S' | 'A' | 'B' | 'C' | 'D') => ({ value, probability: 0.9, confidence: 0.9, grade, frames: 4 });

describe('eval video', () => {
  it('lays the faces out in groups with a return visit, and finds which face a box is on', () => {
    const { placements, visits } = layout(faces, 64);
    expect(visits.map((v) => v.id)).toEqual([0, 1, 2, 3, 0]);
    expect(visits[4]!.fromMs).toBeGreaterThan(visits[0]!.toMs + 1000); // it left and came back
    const truth: ClipTruth = { size: 64, frames: placements.length, fps: 10, faces, placements, visits };
    const p = placements[Math.round(visits[1]!.fromMs / 100) + 5]!.find((x) => x.id === 1)!;
    const box = { x: p.x + p.side * 0.2, y: p.y + p.side * 0.2, width: p.side * 0.6, height: p.side * 0.6 };
    expect(faceAt(truth, visits[1]!.fromMs + 500, box, 1280)).toBe(1);
    // the same box on a frame scaled to 640 px
    expect(faceAt(truth, visits[1]!.fromMs + 500, { x: box.x / 2, y: box.y / 2, width: box.width / 2, height: box.height / 2 }, 640)).toBe(1);
    expect(faceAt(truth, 0, box, 1280)).toBeUndefined(); // nobody in view yet
  });

  it('scores each track by the face it followed: found visits, accuracy by grade, age error by band', () => {
    const { placements, visits } = layout(faces, 64);
    const truth: ClipTruth = { size: 64, frames: placements.length, fps: 10, faces, placements, visits };
    const events: FacestreamEvent[] = [];
    const boxOf = (id: number, ms: number) => {
      const p = placements[Math.round(ms / 100)]!.find((x) => x.id === id)!;
      return { x: p.x + 10, y: p.y + 10, width: p.side - 20, height: p.side - 20 };
    };
    let track = 1;
    const follow = (v: number, gender: string, gGrade: 'S' | 'A' | 'B' | 'C' | 'D', group: string, age: number) => {
      const { id, fromMs } = visits[v]!;
      const t = track++;
      events.push({ type: 'track.started', trackId: t, ptsMs: fromMs + 200, box: boxOf(id, fromMs + 200) } as never);
      events.push({ type: 'track.updated', trackId: t, ptsMs: fromMs + 1200, box: boxOf(id, fromMs + 1200) } as never);
      events.push({ type: 'track.ended', trackId: t, firstSeenMs: fromMs + 200, bestQuality: { widthPx: 60 }, attributes: { gender: cls(gender, gGrade), ageGroup: cls(group, 'A'), age, celeba: {} } } as never);
    };
    follow(0, 'female', 'S', 'youth', 27); // right, S, 2 years off
    follow(1, 'female', 'A', 'middle-aged', 40); // wrong gender at A
    follow(2, 'male', 'S', 'youth', 20); // right gender, wrong group, 12 years off
    follow(4, 'female', 'S', 'youth', 25); // the return visit of face 0
    // a track on nobody
    events.push({ type: 'track.started', trackId: 99, ptsMs: 0, box: { x: 0, y: 0, width: 10, height: 10 } } as never);
    events.push({ type: 'track.ended', trackId: 99, firstSeenMs: 0 } as never);
    const s = scoreClip('default', truth, events);
    expect(s.visits).toBe(5);
    expect(s.facesFound).toBe(0.8); // face 3 never found
    expect(s.tracksPerFace).toBe(1);
    expect(s.unlabelledTracks).toBe(1);
    expect(s.gender).toMatchObject({ answered: 4, accuracy: 0.75, counted: { n: 4, accuracy: 0.75 } });
    expect(s.gender.byGrade.S).toEqual({ share: 0.75, accuracy: 1, n: 3 });
    expect(s.gender.byGrade.A).toEqual({ share: 0.25, accuracy: 0, n: 1 });
    expect(s.ageGroup.accuracy).toBe(0.75);
    expect(s.ageMae.byBand['0-12']).toEqual({ mae: 12, n: 1 });
    expect(s.ageMae.byBand['20-39']).toEqual({ mae: 1, n: 2 });
    expect(s.rows).toHaveLength(4);
    // no visitor ids in these events: each track counts as a new visitor, the return visit is missed
    expect(s.visitors).toEqual({ people: 3, counted: 4, falseMerges: 0, missedReturns: 1, errorShare: 0.333 });
    expect(s.rows[1]).toMatchObject({ face: 1, gender: 'male', widthPx: 60, said: { gender: { value: 'female', grade: 'A' } } });
    expect(s.peer).toBeUndefined();
    // a peer's answers on the same tracks (track 1: face 0, 25; track 2: face 1, 45; track 3: face 2, 8; not on track 4)
    const peer = new Map([[1, { age: 30, male: 0, looks: 2 }], [2, { age: 44, male: 1, looks: 2 }], [3, { age: 9, male: 0.5, looks: 2 }]]);
    const withPeer = scoreClip('default', truth, events, { name: 'face-api', answers: peer });
    // ours on those tracks: 27 (2 off), 40 (5 off), 20 (12 off); the peer's: 5, 1, 1; adults 20-59: tracks 1 and 2
    expect(withPeer.peer).toEqual({
      name: 'face-api', tracks: 3,
      ageMae: { ours: 6.33, peer: 2.33 },
      adultAgeMae: { n: 2, ours: 3.5, peer: 3 },
      gender: { ours: 0.667, peer: 1 },
    });
  });

  it('--raw-grades: the pipeline\'s track element grades by the SA confidence alone (what calibrate.ts fits on)', () => {
    const grading = (raw: boolean) => (evalPipeline('default', raw).elements.find((e) => e.element === 'track')!.options as { grading: object }).grading;
    expect(grading(false)).toMatchObject({ sMinWidthPx: GRADE_POLICY.sMinWidthPx, withholdB: true, genderMinAge: 13 });
    expect(grading(true)).toEqual(RAW_GRADING);
    for (const grade of ['S', 'A', 'B', 'C', 'D'] as const) {
      expect(policyGrade({ value: 'male', probability: 0.5, confidence: 0.5, grade, frames: 1 }, 10, RAW_GRADING)).toBe(grade);
    }
  });

  it('builds a labelled clip from real faces and runs the real pipeline on it', async () => {
    await initRuntime({ quiet: true });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-evalvideo-'));
    const lines: string[] = [];
    const r = await evalVideo({
      utkface: path.join(dataDir(), 'utkface'), sizes: [96], pipelines: ['default'], split: 'validation', faces: 4,
      background: path.join(dataDir(), 'video', 'pedestrians-1080p.mp4'), workDir: work, onProgress: (l) => lines.push(l), peer: true,
    });
    expect(r.clips[0]).toMatchObject({ size: 96, visits: 5 });
    expect(fs.statSync(r.clips[0]!.file).size).toBeGreaterThan(10_000);
    const s = r.results[0]!;
    // faces of 96 px on a 720p frame: every visit found, about one track each, answers given
    expect(s.facesFound).toBeGreaterThanOrEqual(0.8);
    expect(s.tracksPerFace).toBeLessThanOrEqual(1.5);
    expect(s.gender.answered).toBeGreaterThanOrEqual(3);
    expect(s.ageMae.all).toBeLessThan(20);
    // unique visitors: the face that came back is the same visitor; nobody else merged
    expect(s.visitors.falseMerges).toBe(0);
    expect(s.visitors.counted).toBeLessThanOrEqual(s.visitors.people + 1);
    expect(lines.some((l) => /building the 96-px clip/.test(l))).toBe(true);
    expect(lines.some((l) => /default at 96 px: found/.test(l))).toBe(true);
    // face-api's age and gender on the same tracks, looked at on the frames the pipeline reported
    expect(s.peer!.tracks).toBeGreaterThanOrEqual(3);
    expect(s.peer!.ageMae.peer).toBeLessThan(20);
    expect(lines.some((l) => /vs face-api .* on the same \d+ tracks/.test(l))).toBe(true);
    fs.rmSync(work, { recursive: true, force: true });
  }, 240_000);
});
