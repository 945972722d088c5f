// The benchmark harness runs (no timing is asserted: figures come from `facestream bench`).
import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { runStreams } from '../lab/bench/e2e.ts';
import { flopsPerSample } from '../lab/bench/models.ts';
import { runFaceApi, runFacestream, runHuman } from '../lab/bench/peers.ts';
import { fromSource } from '../src/ingest/fromSource.ts';
import { tf } from '../src/runtime/index.ts';
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

  it('FLOPs per face count a Dense on a map at every position of the map', () => {
    const x = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    const rows = tf.layers.dense({ units: 5 }).apply(conv) as tf.SymbolicTensor; // [8, 8, 5]: 64 positions
    const vec = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(rows) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: vec });
    expect(flopsPerSample(model)).toBe(2 * (64 * 3 * 3 * 3 * 4 + 64 * 4 * 5 + 320 * 2));
    model.dispose();
  });
});
