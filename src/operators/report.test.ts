import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import type { Attributes } from '../models/attributes/model.ts';
import type { AnalysedFrame, FaceObservation } from '../pipeline/types.ts';
import { SharedResources } from '../pipeline/shared.ts';
import { createReportStage } from './report.ts';
import { createTrackStage } from './track.ts';

const frame = (ptsMs: number) => ({ source: 's', seq: ptsMs / 200, ptsMs, wallMs: 0, width: 100, height: 100, data: new Uint8Array(0) });
const face = (x: number): FaceObservation => ({
  box: { x, y: 10, width: 30, height: 30 }, score: 0.9, flags: [], landmarks5: [[x + 8, 20], [x + 22, 20], [x + 15, 27], [x + 10, 33], [x + 20, 33]],
});
const answers = (male: number): Attributes => ({
  gender: { value: male > 0.5 ? 'male' : 'female', probs: { male, female: 1 - male }, confidence: 0.9 } as never,
  ageGroup: { value: 'youth', probs: { baby: 0, child: 0, youth: 0.9, 'middle-aged': 0.1, old: 0 }, confidence: 0.9 } as never,
  age: 24,
  smiling: { value: 'no', probs: { no: 0.8, yes: 0.2 }, confidence: 0.9 } as never,
  celeba: { Smiling: 0.2 },
});

function harness(updateIntervalMs = 0, snapshot?: (id: string, jpeg: Buffer) => void) {
  const events: Array<Record<string, unknown> & { type: string }> = [];
  let n = 0;
  const ctx = {
    stream: 's', live: false, count: () => {}, shared: new SharedResources(),
    emit: (e: Record<string, unknown> & { type: string }) => { events.push(e); return { id: `1-${n++}` }; },
    ...(snapshot ? { snapshot } : {}),
  };
  const track = createTrackStage({ iouThreshold: 0.2, maxAge: 1, minHits: 2, updateIntervalMs });
  const report = createReportStage({ updateIntervalMs }, ctx);
  /** One frame through track, a stand-in for the attribute model (answers every tracked face), and report. */
  const step = (ptsMs: number, faces: FaceObservation[], answer?: Attributes, f = frame(ptsMs)) => {
    const item = track.process({ frame: f, detected: true, faces } as AnalysedFrame);
    for (const f of item.faces) if (answer && f.trackId != null && !f.predicted) f.attributes = answer;
    return report.process(item);
  };
  const flush = () => { const last = track.flush(); if (last) report.process(last); };
  return { events, step, flush };
}

describe('track and report', () => {
  it('track says which face is which track and which started; report emits track.started, then updates that carry this frame\'s answers', () => {
    const h = harness(0);
    h.step(0, [face(10)]);
    expect(h.events).toEqual([]); // tentative until minHits
    h.step(200, [face(11)], answers(0.9));
    expect(h.events.map((e) => e.type)).toEqual(['track.started', 'track.updated']);
    // the update of the frame the answers were made on carries them (before the redesign it carried the previous frame's)
    const first = h.events[1] as unknown as { attributes?: { gender?: { value: string; frames: number } } };
    expect(first.attributes?.gender).toMatchObject({ value: 'male', frames: 1 });
    h.step(400, [face(12)], answers(0.8));
    expect((h.events[2] as unknown as typeof first).attributes?.gender?.frames).toBe(2);
  });

  it('a track that leaves ends once (after maxAge), with its smoothed answers, dwell and frames; flush ends the open ones', () => {
    const h = harness(1000);
    for (let t = 0; t <= 800; t += 200) h.step(t, [face(10 + t / 100)], answers(0.2));
    h.step(1000, []);
    h.step(1200, []);
    const ended = h.events.filter((e) => e.type === 'track.ended') as unknown as Array<{ trackId: number; dwellMs: number; frames: number; attributes?: { gender?: { value: string } } }>;
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ dwellMs: 800, frames: 5, attributes: { gender: { value: 'female' } } });
    h.step(1400, [face(60)]);
    h.step(1600, [face(61)]);
    h.flush();
    expect(h.events.filter((e) => e.type === 'track.ended')).toHaveLength(2);
    expect(h.events.filter((e) => e.type === 'track.started')).toHaveLength(2);
  });

  it('thumbnails (storage.snapshots): the face of the best-quality frame, once, at the track\'s end, only when asked for', () => {
    const grey = (ptsMs: number, v: number) => ({ ...frame(ptsMs), data: new Uint8Array(100 * 100 * 3).fill(v) });
    const withQuality = (x: number, widthPx: number): FaceObservation => ({ ...face(x), quality: { widthPx, eyeDistPx: 14, blur: 200, yawDeg: 0, rollDeg: 0, score: 0.9 } });
    const thumbs: Array<{ id: string; jpeg: Buffer }> = [];
    const h = harness(1000, (id, jpeg) => thumbs.push({ id, jpeg }));
    // the widest face (frame 400, grey 200) is the best; the frames around it are darker
    h.step(0, [withQuality(10, 30)], answers(0.2), grey(0, 40));
    h.step(200, [withQuality(11, 31)], answers(0.2), grey(200, 60));
    h.step(400, [withQuality(12, 60)], answers(0.2), grey(400, 200));
    h.step(600, [withQuality(13, 32)], answers(0.2), grey(600, 80));
    expect(thumbs).toEqual([]); // nothing before the end
    h.step(800, []);
    h.step(1000, []);
    const ended = h.events.filter((e) => e.type === 'track.ended');
    expect(ended).toHaveLength(1);
    expect(thumbs).toHaveLength(1);
    expect(thumbs[0]!.id).toBe(`1-${h.events.indexOf(ended[0]!)}`);
    const img = jpeg.decode(thumbs[0]!.jpeg);
    expect([img.width, img.height]).toEqual([96, 96]);
    const mean = img.data.reduce((s, v, i) => (i % 4 === 3 ? s : s + v), 0) / (96 * 96 * 3);
    expect(Math.abs(mean - 200)).toBeLessThan(4);
    // never in an event
    expect(JSON.stringify(h.events)).not.toMatch(/jpeg|snapshot|thumb/i);
    // without the setting no thumbnail is made
    const off = harness(1000);
    for (let t = 0; t <= 600; t += 200) off.step(t, [withQuality(10, 40)], answers(0.2), grey(t, 90));
    off.flush();
    expect(off.events.filter((e) => e.type === 'track.ended')).toHaveLength(1);
  });

  it('each frame carries the smoothed answers of its tracks (the live view draws them)', async () => {
    const h = harness(0);
    await h.step(0, [face(10)], answers(0.9));
    const item = await h.step(200, [face(11)], answers(0.9));
    const id = item.faces[0]!.trackId!;
    expect(item.answers?.get(id)?.gender?.value).toBe('male');
  });
});
