import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../pipeline/latency.ts';
import { createMetrics, type StreamMetrics } from './metrics.ts';

describe('metrics', () => {
  it('exposes the streams\' counters with labels, the latency histogram in seconds, and standard process metrics', async () => {
    const latency = new LatencyHistogram();
    for (const ms of [40, 90, 300, 20_000]) latency.observeMs(ms);
    const stream: StreamMetrics = {
      name: 'live/door', frames: 10, analysed: 9, dropped: 1, restarts: 2, latency,
      counters: { 'skipped.blur': 3, 'skipped.small': 4, 'faces.passed': 5, tracks: 1 },
    };
    const socket = { clients: 2, dropped: 0, invalid: 1, refused: 5, sent: 7, oversized: 1, subscribedStreams: 3 };
    const m = createMetrics({ streams: () => [stream], socket: () => socket, store: () => ({ pending: 0, dropped: 0 }), tensors: () => 42 });
    const text = await m.text();
    const value = (sample: string) => Number(new RegExp(`^${sample.replace(/[{}".=/+]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('facestream_frames_total{stream="live/door"}')).toBe(10);
    expect(value('facestream_frames_dropped_total{stream="live/door"}')).toBe(1);
    expect(value('facestream_faces_skipped_total{stream="live/door",reason="blur"}')).toBe(3);
    expect(value('facestream_faces_skipped_total{stream="live/door",reason="small"}')).toBe(4);
    expect(value('facestream_pipeline_total{stream="live/door",counter="faces.passed"}')).toBe(5);
    expect(text).not.toMatch(/facestream_skipped_/); // one metric with a reason label, not one per reason
    // cumulative buckets in seconds: 0.05 holds 40 ms, 0.1 adds 90 ms, 0.5 adds 300 ms, +Inf the 20 s one
    expect(value('facestream_latency_seconds_bucket{stream="live/door",le="0.05"}')).toBe(1);
    expect(value('facestream_latency_seconds_bucket{stream="live/door",le="0.1"}')).toBe(2);
    expect(value('facestream_latency_seconds_bucket{stream="live/door",le="0.5"}')).toBe(3);
    expect(value('facestream_latency_seconds_bucket{stream="live/door",le="10"}')).toBe(3);
    expect(value('facestream_latency_seconds_bucket{stream="live/door",le="+Inf"}')).toBe(4);
    expect(value('facestream_latency_seconds_count{stream="live/door"}')).toBe(4);
    expect(value('facestream_latency_seconds_sum{stream="live/door"}')).toBeCloseTo(20.43, 5);
    expect(value('facestream_socket_subscribed_streams')).toBe(3);
    expect(value('facestream_socket_oversized_messages_total')).toBe(1);
    expect(value('facestream_tensors')).toBe(42);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    // the scrape reads the streams afresh: a counter that grew is seen, a stream that left is gone
    stream.frames = 12;
    expect(await m.text()).toMatch(/^facestream_frames_total\{stream="live\/door"\} 12$/m);
    // one registry per app: two apps in one process do not collide
    expect(() => createMetrics({ streams: () => [], socket: () => socket, store: () => ({ pending: 0, dropped: 0 }) })).not.toThrow();
  });
});
