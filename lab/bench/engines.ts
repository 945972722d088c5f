/**
 * `facestream bench engines --json`: each network of the live path on each engine, in one
 * run on this machine: tfjs (the backend the runtime picks, wasm here) and onnxruntime
 * (the ONNX graphs of the same weights, the engine's thread budget).
 *   peak       GFLOP/s, the fastest of several runs: tfjs' 1024^3 matmul, and onnxruntime's
 *              native probes (graphs built here) at 1 thread and at the budget: a 2048^3
 *              matmul and a 3x3 convolution; the native peak is the better of the two
 *   attributes faces/s at batch 1 and 32, GFLOP/s (2 x multiply-adds per face x faces/s),
 *              the share of the native peak, the onnx / tfjs ratio at batch 32
 *   superres   TRGAN x4 and x8, ms per face at batch 32
 *   detect     BlazeFace with tiles and the 68-point net on every face (the default
 *              pipeline's detector): ms per frame and faces on the shared clips' frames,
 *              recall on the talking clips, the tfjs / onnx time ratio
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { dataDir, PROJECT_ROOT } from '../../src/data.ts';
import { fromSource, type Frame } from '../../src/ingest/fromSource.ts';
import { loadDetector } from '../../src/models/faces/detector.ts';
import { loadModel } from '../../src/models/io.ts';
import { engineInfo, onnxEngine, parseThreads, requireOnnxRuntime, resetEngineChoice, type OnnxRuntime } from '../../src/runtime/onnx.ts';
import { encodeModel } from '../onnx/proto.ts';
import { initRuntime, tf } from '../runtime.ts';
import { flopsPerSample } from './models.ts';
import { median } from './stats.ts';
import '../../src/models/superres/network.ts';

type Ort = OnnxRuntime;

async function loadOrt(): Promise<Ort | undefined> {
  return requireOnnxRuntime().ort;
}

async function timeAsync(f: () => Promise<unknown>, runs = 7, warmup = 2, pick: (t: number[]) => number = median): Promise<number> {
  for (let i = 0; i < warmup; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); await f(); t.push(performance.now() - t0); }
  return pick(t);
}
/** A peak is the best the machine did: the fastest of the runs (a shared machine's noise only slows runs down). */
const fastest = (t: number[]) => Math.min(...t);

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** onnxruntime's GFLOP/s on a 2048^3 matmul (the graph: one MatMul of two inputs). */
async function nativePeak(ort: Ort, threads: number): Promise<number> {
  const n = 2048;
  const file = path.join(os.tmpdir(), `facestream-matmul-${process.pid}.onnx`);
  fs.writeFileSync(file, encodeModel({
    name: 'matmul', nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }], initializers: [],
    inputs: [{ name: 'a', dims: [n, n] }, { name: 'b', dims: [n, n] }], outputs: [{ name: 'c', dims: [n, n] }],
  }));
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  fs.rmSync(file, { force: true });
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), [n, n]);
  const b = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)), [n, n]);
  const ms = await timeAsync(() => s.run({ a, b }), 12, 2, fastest);
  await s.release();
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

/**
 * onnxruntime's GFLOP/s on a 3x3 convolution, 128 -> 128 channels on 4 x 64x64 (its
 * convolutions run faster kernels than its matmul on this CPU, so the peak is the better of
 * the two probes).
 */
async function nativeConvPeak(ort: Ort, threads: number): Promise<number> {
  const [b, c, h] = [4, 128, 64];
  const file = path.join(os.tmpdir(), `facestream-conv-${process.pid}.onnx`);
  const w = Float32Array.from({ length: c * c * 9 }, (_, i) => Math.sin(i) * 0.01);
  fs.writeFileSync(file, encodeModel({
    name: 'conv', nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }],
    initializers: [{ name: 'w', dims: [c, c, 3, 3], data: w }],
    inputs: [{ name: 'x', dims: [b, c, h, h] }], outputs: [{ name: 'y', dims: [b, c, h, h] }],
  }));
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  fs.rmSync(file, { force: true });
  const x = new ort.Tensor('float32', Float32Array.from({ length: b * c * h * h }, (_, i) => Math.cos(i)), [b, c, h, h]);
  const ms = await timeAsync(() => s.run({ x }), 12, 2, fastest);
  await s.release();
  return (2 * b * h * h * c * c * 9) / (ms / 1000) / 1e9;
}

export async function benchEngines(opts: { maxFramesPerClip?: number } = {}) {
  const info = await initRuntime();
  const ort = await loadOrt();
  const threads = parseThreads(process.env.FACESTREAM_ENGINE_THREADS);
  // tfjs' own matmul peak (wasm here)
  const a = tf.randomNormal([1024, 1024]), b = tf.randomNormal([1024, 1024]);
  const tfMs = await timeAsync(async () => tf.tidy(() => { tf.matMul(a, b).dataSync(); }), 8, 1, fastest);
  tf.dispose([a, b]);
  const probes = ort ? {
    matmul1: round(await nativePeak(ort, 1)), matmul: round(await nativePeak(ort, threads)),
    conv1: round(await nativeConvPeak(ort, 1)), conv: round(await nativeConvPeak(ort, threads)),
  } : undefined;
  const peak = {
    tfjs: round((2 * 1024 ** 3) / (tfMs / 1000) / 1e9),
    native1: probes ? Math.max(probes.matmul1, probes.conv1) : null,
    native: probes ? Math.max(probes.matmul, probes.conv) : null,
    threads, probes,
  };

  // the attribute model
  const dir = path.join(PROJECT_ROOT, 'models', 'attributes');
  const model = await loadModel(dir);
  const side = model.inputs[0]!.shape[1]!;
  const flops = flopsPerSample(model);
  const tfRate = async (n: number) => {
    const x = tf.randomUniform([n, side, side, 3]);
    const ms = await timeAsync(async () => tf.tidy(() => { (model.predict(x) as tf.Tensor[]).forEach((t) => t.dataSync()); }), n === 1 ? 15 : 5);
    x.dispose();
    return (1000 * n) / ms;
  };
  const attributes: Record<string, number | null> = { mflopsPerFace: round(flops / 1e6), tfjsBatch1: round(await tfRate(1)), tfjsBatch32: round(await tfRate(32)) };
  model.dispose();
  let ortSession: import('onnxruntime-common').InferenceSession | undefined;
  if (ort) {
    ortSession = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const rate = async (n: number) => {
      const x = new ort.Tensor('float32', Float32Array.from({ length: n * side * side * 3 }, (_, i) => (i % 255) / 255), [n, side, side, 3]);
      const ms = await timeAsync(() => ortSession!.run({ [ortSession!.inputNames[0]!]: x }), n === 1 ? 30 : 10, 3);
      return (1000 * n) / ms;
    };
    attributes.onnxBatch1 = round(await rate(1));
    attributes.onnxBatch32 = round(await rate(32));
    await ortSession.release();
    attributes.onnxOverTfjsBatch32 = round(attributes.onnxBatch32! / attributes.tfjsBatch32!, 2);
    attributes.onnxGflops = round((flops * attributes.onnxBatch32) / 1e9);
    attributes.shareOfNativePeak = peak.native ? round(attributes.onnxGflops / peak.native, 3) : null;
  }
  attributes.tfjsGflops = round((flops * attributes.tfjsBatch32!) / 1e9);

  // TRGAN
  const superres: Record<string, number | null> = {};
  for (const scale of [4, 8]) {
    const gdir = path.join(PROJECT_ROOT, 'models', 'superres', `x${scale}`);
    const low = 64 / scale;
    const g = await loadModel(gdir);
    const x = tf.randomUniform([32, low, low, 3]);
    superres[`x${scale}TfjsMsPerFace`] = round((await timeAsync(async () => tf.tidy(() => { (g.predict(x) as tf.Tensor).dataSync(); }), 5)) / 32, 2);
    x.dispose();
    g.dispose();
    if (ort) {
      const s = await ort.InferenceSession.create(path.join(gdir, 'model.onnx'), { intraOpNumThreads: threads, interOpNumThreads: 1 });
      const t = new ort.Tensor('float32', Float32Array.from({ length: 32 * low * low * 3 }, (_, i) => (i % 97) / 97), [32, low, low, 3]);
      superres[`x${scale}OnnxMsPerFace`] = round((await timeAsync(() => s.run({ [s.inputNames[0]!]: t }), 7)) / 32, 2);
      await s.release();
    }
  }

  // the default pipeline's detector on the shared clips, on each engine
  const vdir = path.join(dataDir(), 'video');
  const talking = fs.readdirSync(vdir).filter((f) => /^talking-.*\.mp4$/.test(f)).sort();
  const load = async (f: string, maxWidth?: number) => (await lastValueFrom(fromSource(path.join(vdir, f), { fps: 5, maxWidth }).pipe(toArray()))).slice(0, opts.maxFramesPerClip ?? Infinity);
  const talkingFrames: Frame[] = (await Promise.all(talking.map((f) => load(f)))).flat();
  const crowd = await load('pedestrians-1080p.mp4', 1280);
  const detect: Record<string, unknown> = { talkingFrames: talkingFrames.length, crowdFrames: crowd.length };
  const saved = process.env.FACESTREAM_ENGINE;
  for (const engine of ort ? ['tfjs', 'onnx'] as const : ['tfjs'] as const) {
    process.env.FACESTREAM_ENGINE = engine;
    resetEngineChoice();
    const d = await loadDetector({ kind: 'blazeface', tiles: true });
    for (const f of talkingFrames.slice(0, 3)) await d.detect(f); // warm-up
    let found = 0, ms = 0, faces = 0, crowdMs = 0;
    for (const f of talkingFrames) { const t0 = performance.now(); if ((await d.detect(f)).length) found++; ms += performance.now() - t0; }
    for (const f of crowd) { const t0 = performance.now(); faces += (await d.detect(f)).length; crowdMs += performance.now() - t0; }
    d.dispose?.();
    detect[engine] = {
      engine: d.engine, talkingRecall: round(found / talkingFrames.length, 3), talkingMsPerFrame: round(ms / talkingFrames.length),
      crowdFacesPerFrame: round(faces / crowd.length, 2), crowdMsPerFrame: round(crowdMs / crowd.length),
    };
  }
  if (saved === undefined) delete process.env.FACESTREAM_ENGINE; else process.env.FACESTREAM_ENGINE = saved;
  resetEngineChoice();
  if (detect.onnx) {
    const t = detect.tfjs as { talkingMsPerFrame: number; crowdMsPerFrame: number }, o = detect.onnx as typeof t;
    detect.speedupTalking = round(t.talkingMsPerFrame / o.talkingMsPerFrame, 2);
    detect.speedupCrowd = round(t.crowdMsPerFrame / o.crowdMsPerFrame, 2);
  }
  const engine = await engineInfo();
  await onnxEngine();
  const cpu = os.cpus();
  return { machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, node ${process.version}`, tfjsBackend: info.backend, engine: engine.detail, onnxruntime: ort ? 'installed' : 'absent', peakGflops: peak, attributes, superres, detect };
}
