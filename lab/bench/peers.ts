/**
 * `facestream bench peers`: facestream's pipeline and the face pipelines of the two
 * libraries a user would otherwise pick, on the same decoded frames (the 720p bench clip
 * at 10 fps), one after the other in this process, on the same tfjs wasm backend:
 *
 * - facestream: a pipeline's stages after ingest (default: pipelines/default.yaml), as
 *   `analyze` runs them;
 * - human (`@vladmandic/human`): BlazeFace + face mesh + age/gender (faceres) + emotion;
 *   body, hands, iris, gestures off. Measured with every frame analysed (its frame cache
 *   and skip-frames off) and, for reference, with its own video defaults (it re-uses the
 *   last result while the input barely changes);
 * - face-api (`@vladmandic/face-api`): SSD + 68 landmarks + expressions + age/gender.
 *
 * Recall = frames on which at least one face was located / frames (one person is always in
 * view); for facestream, found by the detector or carried by the tracker.
 * speedupVsBestPeer = facestream's frames/s / the faster peer's, every frame analysed.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { fromSource, type Frame } from '../../src/ingest/fromSource.ts';
import { faceApiModelDir } from '../../src/models/faces/detector.ts';
import { createChain } from '../../src/runner/run.ts';
import { SharedResources } from '../../src/pipeline/shared.ts';
import { loadPipeline } from '../../src/pipeline/schema.ts';
import { initRuntime, tf } from '../../src/runtime/index.ts';
import { benchClip } from './clip.ts';

const require = createRequire(import.meta.url);

export interface PeerResult { fps: number; msPerFrame: number; recall: number; frames: number }

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const result = (ms: number, found: number, n: number): PeerResult =>
  ({ fps: round((1000 * n) / ms), msPerFrame: round(ms / n), recall: round(found / n, 3), frames: n });

async function timeFrames(frames: Frame[], fn: (f: Frame) => Promise<number>): Promise<PeerResult> {
  for (const f of frames.slice(0, 3)) await fn(f); // warm-up: first inference compiles/allocates
  let found = 0;
  const t0 = performance.now();
  for (const f of frames) if ((await fn(f)) > 0) found++;
  return result(performance.now() - t0, found, frames.length);
}

export async function runFacestream(frames: Frame[], pipelineName = 'default'): Promise<PeerResult & { classified: number }> {
  const pipeline = loadPipeline(pipelineName);
  const counters: Record<string, number> = {};
  const shared = new SharedResources();
  const ctx = (stream: string) => ({
    stream, live: false, emit: () => {}, shared,
    count: (name: string, by = 1) => { counters[name] = (counters[name] ?? 0) + by; },
  });
  const warm = await createChain(pipeline, ctx('warm-up'));
  for (const f of frames.slice(0, 3)) await warm.process(f);
  await warm.close();
  for (const k of Object.keys(counters)) delete counters[k];
  const chain = await createChain(pipeline, ctx('bench'));
  let found = 0;
  const t0 = performance.now();
  for (const f of frames) {
    // found: the detector (or the tracker, between detections) located a face on this frame,
    // even if its track is not confirmed yet (confirmation holds a face back one frame)
    let located = false;
    await chain.process(f, (_element, item) => { located ||= item.faces.length > 0; });
    if (located) found++;
  }
  const ms = performance.now() - t0;
  await chain.close();
  await shared.dispose();
  return { ...result(ms, found, frames.length), classified: counters['faces.classified'] ?? 0 };
}

/**
 * human's wasm build loads models with fetch(), and Node's fetch has no file:// scheme;
 * this serves file:// URLs from disk for the duration of the load (the bench only).
 */
export async function withFileFetch<T>(fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith('file://')) return new Response(fs.readFileSync(new URL(url)));
    return real(input, init);
  }) as typeof fetch;
  try { return await fn(); } finally { globalThis.fetch = real; }
}

interface HumanLike { load(): Promise<void>; detect(input: tf.Tensor): Promise<{ face: unknown[] }> }

export async function runHuman(frames: Frame[], opts: { cache: boolean }): Promise<PeerResult> {
  const dist = path.dirname(require.resolve('@vladmandic/human')); // its "exports" lists no subpaths Node accepts
  const { Human } = require(path.join(dist, 'human.node-wasm.js')) as { Human: new (config: object) => HumanLike };
  const skip = opts.cache ? {} : { skipFrames: 0, skipTime: 0 };
  const human = new Human({
    backend: 'wasm', debug: false, modelBasePath: `file://${path.join(dist, '..', 'models')}/`,
    ...(opts.cache ? {} : { cacheSensitivity: 0 }),
    face: {
      enabled: true, detector: { rotation: false, ...skip }, mesh: { enabled: true }, iris: { enabled: false },
      description: { enabled: true, ...skip }, emotion: { enabled: true, ...skip }, antispoof: { enabled: false }, liveness: { enabled: false },
    },
    body: { enabled: false }, hand: { enabled: false }, object: { enabled: false }, gesture: { enabled: false },
    segmentation: { enabled: false }, filter: { enabled: false },
  });
  await withFileFetch(() => human.load());
  return timeFrames(frames, async (f) => {
    const t = tf.tensor4d(f.data, [1, f.height, f.width, 3], 'int32');
    try { return (await human.detect(t)).face.length; } finally { t.dispose(); }
  });
}

interface FaceApiLike {
  nets: Record<string, { loadFromDisk(dir: string): Promise<void> }>;
  SsdMobilenetv1Options: new (o: { minConfidence: number }) => unknown;
  detectAllFaces(input: unknown, o: unknown): { withFaceLandmarks(): { withFaceExpressions(): { withAgeAndGender(): Promise<unknown[]> } } };
}

export async function runFaceApi(frames: Frame[]): Promise<PeerResult> {
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiLike;
  for (const net of ['ssdMobilenetv1', 'faceLandmark68Net', 'faceExpressionNet', 'ageGenderNet']) await api.nets[net]!.loadFromDisk(faceApiModelDir());
  const options = new api.SsdMobilenetv1Options({ minConfidence: 0.5 });
  return timeFrames(frames, async (f) => {
    const t = tf.tensor3d(f.data, [f.height, f.width, 3], 'int32');
    try { return (await api.detectAllFaces(t, options).withFaceLandmarks().withFaceExpressions().withAgeAndGender()).length; } finally { t.dispose(); }
  });
}

export async function benchPeers(opts: { frames?: number; pipeline?: string } = {}) {
  await initRuntime();
  const clip = benchClip();
  const frames = (await lastValueFrom(fromSource(clip, { fps: 10 }).pipe(toArray()))).slice(0, opts.frames ?? 100);
  const facestream = await runFacestream(frames, opts.pipeline);
  const human = await runHuman(frames, { cache: false });
  const humanCached = await runHuman(frames, { cache: true });
  const faceapi = await runFaceApi(frames);
  const best = Math.max(human.fps, faceapi.fps);
  return {
    clip: path.basename(clip), frames: frames.length, size: `${frames[0]?.width}x${frames[0]?.height}`, pipeline: opts.pipeline ?? 'default',
    facestream, peers: { human, faceapi, humanCached },
    speedupVsBestPeer: round(facestream.fps / best, 2),
    recallVsBestPeer: round(facestream.recall - (human.fps >= faceapi.fps ? human : faceapi).recall, 3),
  };
}
