// The benchmark harness runs (no timing is asserted: figures come from `facestream bench`).
import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { runStreams } from '../bench/e2e.ts';
import { runFaceApi, runFacestream, runHuman } from '../bench/peers.ts';
import { fromSource } from '../src/ingest/fromSource.ts';
import { video } from './helpers.ts';

describe('benchmark harness', () => {
  it('facestream and both peers run their face pipelines on the same frames and find the face', async () => {
    const frames = await lastValueFrom(fromSource(video('talking-d3.mp4'), { fps: 5 }).pipe(take(6), toArray()));
    const results = [await runFacestream(frames), await runHuman(frames, { cache: false }), await runFaceApi(frames)];
    for (const r of results) {
      expect(r.frames).toBe(6);
      expect(r.fps).toBeGreaterThan(0);
      expect(r.recall).toBe(1);
    }
  });

  it('e2e: a live stream read in real time is analysed with its latency and memory recorded', async () => {
    const r = await runStreams(1, 5, { clip: video('talking-d0.mp4') });
    expect(r.analysed).toBeGreaterThanOrEqual(10);
    expect(r.p95Ms).toBeGreaterThanOrEqual(r.p50Ms);
    expect(r.memory.tensors[1]).toBe(r.memory.tensors[2]); // no tensor growth at the end of the run
  });
});
