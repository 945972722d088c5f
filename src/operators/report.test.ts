import { describe, expect, it } from 'vitest';
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

function harness(updateIntervalMs = 0) {
  const events: Array<Record<string, unknown> & { type: string }> = [];
  const ctx = { stream: 's', live: false, count: () => {}, emit: (e: Record<string, unknown> & { type: string }) => { events.push(e); }, shared: new SharedResources() };
  const track = createTrackStage({ iouThreshold: 0.2, maxAge: 1, minHits: 2, updateIntervalMs });
  const report = createReportStage({ updateIntervalMs }, ctx);
  /** One frame through track, a stand-in for the attribute model (answers every tracked face), and report. */
  const step = (ptsMs: number, faces: FaceObservation[], answer?: Attributes) => {
    const item = track.process({ frame: frame(ptsMs), detected: true, faces } as AnalysedFrame);
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
});
