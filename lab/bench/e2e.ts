/**
 * `facestream bench e2e`: the whole pipeline on live streams. Each stream is the 720p
 * bench clip read at its own frame rate (ffmpeg -re, as a camera sends it) through
 * `startStream`, all streams at once in this process; the pipeline (default:
 * pipelines/default.yaml) analyses 10 frames/s of one stream, then 5 frames/s of each of
 * four. Measured per run: analysed frames/s per stream (analysed frames over the span
 * between the first and the last one), latency from decode to the frame's result (p50,
 * p95, max), frames dropped by load shedding, and the process' RSS, heap and tensor
 * count sampled every second (first, last and maximum).
 */
import { engineInfo } from '../../src/runtime/onnx.ts';
import { resolveWorkers } from '../../src/operators/detect.ts';
import { loadPipeline } from '../../src/pipeline/schema.ts';
import { startStream } from '../../src/runner/run.ts';
import type { Frame } from '../../src/ingest/fromSource.ts';
import { initRuntime, tf } from '../../src/runtime/index.ts';
import { attributeBatchStats } from '../../src/operators/attributes.ts';
import { SharedResources } from '../../src/pipeline/shared.ts';
import { benchClip } from './clip.ts';
import { percentile } from './stats.ts';

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const mb = (b: number) => round(b / 2 ** 20);

export interface E2eRun {
  streams: number; fpsTarget: number;
  /** Mean analysed frames/s of the streams, and the slowest stream's. */
  fps: number; minFps: number;
  p50Ms: number; p95Ms: number; maxMs: number;
  frames: number; analysed: number; dropped: number;
  memory: { rssMb: [number, number, number]; heapMb: [number, number, number]; tensors: [number, number, number] };
}

export async function runStreams(
  n: number, fps: number,
  opts: { pipeline?: string; clip?: string; realtime?: boolean; workers?: number | 'auto'; shared?: SharedResources } = {},
): Promise<E2eRun & { totalFps: number; wallSeconds: number }> {
  await initRuntime();
  const clip = opts.clip ?? benchClip();
  const pipeline = structuredClone(loadPipeline(opts.pipeline ?? 'default'));
  if (opts.workers !== undefined) {
    const detect = pipeline.elements.find((e) => e.element === 'detect');
    if (detect) detect.options.workers = opts.workers;
  }
  const realtime = opts.realtime ?? true;
  let firstItemAt = 0, lastItemAt = 0;
  const latencies: number[] = [];
  const spans = Array.from({ length: n }, () => ({ first: 0, last: 0, count: 0 }));
  const samples: Array<{ rss: number; heap: number; tensors: number }> = [];
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ rss: m.rss, heap: m.heapUsed, tensors: tf.memory().numTensors });
  };
  sample();
  const timer = setInterval(sample, 1000);
  // the streams share models, batchers and detector workers, as the streams of one app do
  const shared = opts.shared ?? new SharedResources();
  const streams = spans.map((span, i) => startStream({
    name: `bench-${i}`, uri: clip, pipeline, live: realtime, realtime, endOnEof: true, restartOnStall: false,
    ingest: { fps }, onEvent: () => {}, shared,
    onItem: (item) => {
      const frame = (item as { frame: Frame }).frame;
      const now = Date.now();
      firstItemAt ||= now;
      lastItemAt = now;
      latencies.push(now - frame.wallMs);
      span.first ||= frame.wallMs;
      span.last = frame.wallMs;
      span.count++;
    },
  }));
  const ended = await Promise.all(streams.map((s) => s.done));
  clearInterval(timer);
  sample(); // before the shared models are freed: the end of the run as the streams left it
  if (!opts.shared) await shared.dispose();
  for (const e of ended) if (e.error) throw new Error(`bench stream ${e.stream} failed: ${e.error.message}`);
  const perStream = spans.map((s) => (s.count > 1 ? (s.count - 1) / ((s.last - s.first) / 1000) : 0));
  latencies.sort((a, b) => a - b);
  const triple = (f: (s: (typeof samples)[number]) => number, scale = (v: number) => v): [number, number, number] =>
    [scale(f(samples[0]!)), scale(f(samples.at(-1)!)), scale(Math.max(...samples.map(f)))];
  const wallSeconds = (lastItemAt - firstItemAt) / 1000;
  const analysed = streams.reduce((a, s) => a + s.stats.analysed, 0);
  return {
    streams: n, fpsTarget: fps, totalFps: round(analysed / wallSeconds), wallSeconds: round(wallSeconds),
    fps: round(perStream.reduce((a, b) => a + b, 0) / n), minFps: round(Math.min(...perStream)),
    p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), maxMs: latencies.at(-1) ?? NaN,
    frames: streams.reduce((a, s) => a + s.stats.frames, 0), analysed: streams.reduce((a, s) => a + s.stats.analysed, 0),
    dropped: streams.reduce((a, s) => a + s.stats.dropped, 0),
    memory: { rssMb: triple((s) => s.rss, mb), heapMb: triple((s) => s.heap, mb), tensors: triple((s) => s.tensors) },
  };
}

/**
 * Capacity: four streams of the clip decoded as fast as the pipeline takes them (files
 * pause instead of dropping), all frames analysed: total frames/s, with the detector on
 * the main thread and in worker threads.
 */
export async function benchCapacity(opts: { pipeline?: string } = {}): Promise<{ workers0: { totalFps: number; p95Ms: number }; workers: number; workersAuto: { totalFps: number; p95Ms: number }; workerSpeedup: number; [k: string]: unknown }> {
  const out: Record<string, { totalFps: number; p95Ms: number }> = {};
  // what auto starts for the pipeline's detector on this process's engine
  const detect = loadPipeline(opts.pipeline ?? 'default').elements.find((e) => e.element === 'detect');
  const autoCount = await resolveWorkers('auto', String(detect?.options.model ?? 'blazeface'));
  for (const workers of [0, 1, 'auto'] as const) {
    const r = await runStreams(4, 10, { ...opts, realtime: false, workers });
    out[`workers${workers === 'auto' ? `Auto${autoCount}` : workers}`] = { totalFps: r.totalFps, p95Ms: r.p95Ms };
  }
  const none = out.workers0!, auto = out[`workersAuto${autoCount}`]!;
  return { ...out, workers0: none, workers: autoCount, workersAuto: auto, workerSpeedup: round(auto.totalFps / none.totalFps, 2) };
}

export async function benchE2e(opts: { pipeline?: string } = {}) {
  const shared = new SharedResources();
  const streams1 = await runStreams(1, 10, { ...opts, shared });
  const streams4 = await runStreams(4, 5, { ...opts, shared });
  // the issue's bar for the native engine: four 720p streams at 10 fps each
  const streams4at10 = await runStreams(4, 10, { ...opts, shared });
  const after = await attributeBatchStats(shared);
  await shared.dispose();
  const before = { batches: 0, crops: 0 };
  // load shedding: eight live streams at 10 fps ask for about twice what this machine analyses
  const overload = await runStreams(8, 10, opts);
  const capacity = await benchCapacity(opts);
  const batches = after.batches - before.batches;
  return {
    clip: 'bench-720p-v1.mp4 (1280x720, 30 fps, 20 s, read in real time)', pipeline: opts.pipeline ?? 'default',
    engine: (await engineInfo()).detail,
    streams1, streams4, streams4at10, overload, capacity,
    attributeBatches: { batches, meanCrops: batches ? round((after.crops - before.crops) / batches, 2) : 0, largest: after.largest },
  };
}
