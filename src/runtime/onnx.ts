/**
 * The native inference engine: onnxruntime-node (an optional dependency; its CPU library
 * ships inside the package), for the networks whose model folder holds a `model.onnx`
 * that the lab exported from the same weights (lab/onnx/export.ts).
 *
 * Which engine runs, once per process (`FACESTREAM_ENGINE`):
 *   auto  the GPU path first: when tfjs' native backend runs (tfjs-node-gpu / tfjs-node),
 *         the networks stay on it; else onnxruntime-node when it loads; else tfjs (wasm).
 *   onnx  onnxruntime-node, or an error that says why it cannot load.
 *   tfjs  TensorFlow.js only (the backend src/runtime/index.ts picks).
 *
 * One engine for the process: every network's runs go through one queue, so runs never
 * overlap and each may use the whole thread budget (`FACESTREAM_ENGINE_THREADS`, by default
 * every core; the threads sleep rather than spin between runs, which leaves the cores to
 * ffmpeg's decoders). `FACESTREAM_ENGINE_PROVIDER=cuda` asks for onnxruntime's CUDA
 * provider where the user installed its libraries (falling back to the CPU).
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { FacestreamError } from '../errors.ts';
import { log } from '../log.ts';
import { initRuntime } from './index.ts';

export const ENGINE_CHOICES = ['auto', 'onnx', 'tfjs'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

/**
 * onnxruntime's API. The types come from onnxruntime-common (a dev dependency: it is what
 * onnxruntime-node re-exports), so the project type-checks and builds where the optional
 * onnxruntime-node is not installed.
 */
export type OnnxRuntime = typeof import('onnxruntime-common');
type Ort = OnnxRuntime;
type Session = import('onnxruntime-common').InferenceSession;
export type OnnxFeeds = Record<string, { data: Float32Array; dims: number[] }>;
export type OnnxOutputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs in the engine's queue; the outputs are plain arrays (nothing to dispose). */
  run(feeds: OnnxFeeds): Promise<OnnxOutputs>;
  dispose(): Promise<void>;
}

export interface OnnxEngine {
  version: string;
  threads: number;
  provider: 'cpu' | 'cuda';
  /** Runs done and milliseconds spent in them, for metrics; the sessions open now (each network loaded and not yet released). */
  readonly stats: { runs: number; ms: number; sessions: number };
  load(file: string): Promise<OnnxSession>;
}

/** What the process runs its networks on, for the log, /api/info and bench. */
export interface EngineInfo {
  choice: EngineChoice;
  /** 'onnxruntime' or 'tfjs'. */
  engine: 'onnxruntime' | 'tfjs';
  /** e.g. "onnxruntime-node 1.30.0, cpu, 2 threads" or "tfjs wasm". */
  detail: string;
  /** Why onnxruntime was not taken (auto), for the log. */
  skipped?: string;
}

const require = createRequire(import.meta.url);

export function parseEngineChoice(value: string | undefined): EngineChoice {
  const v = (value ?? 'auto').trim().toLowerCase() || 'auto';
  if ((ENGINE_CHOICES as readonly string[]).includes(v)) return v as EngineChoice;
  throw new FacestreamError('FS_ERR_BACKEND', `engine "${value}" is not one of ${ENGINE_CHOICES.join(', ')}`);
}

export function parseThreads(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new FacestreamError('FS_ERR_BACKEND', `FACESTREAM_ENGINE_THREADS="${value}" is not a thread count (1-256)`);
  return n;
}

function createEngine(ort: Ort, threads: number, provider: 'cpu' | 'cuda'): OnnxEngine {
  let tail: Promise<unknown> = Promise.resolve();
  const stats = { runs: 0, ms: 0, sessions: 0 };
  /** Runs `f` after every run queued before it (one run at a time, process-wide). */
  const queued = <T>(f: () => Promise<T>): Promise<T> => {
    const p = tail.then(f, f);
    tail = p.catch(() => undefined);
    return p;
  };
  return {
    version: ort.env.versions?.node ?? 'unknown', threads, provider, stats,
    async load(file) {
      if (!fs.existsSync(file)) throw new FacestreamError('FS_ERR_MODEL', `${file} not found`);
      let session: Session;
      try {
        session = await ort.InferenceSession.create(file, {
          intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
          executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
          extra: { session: { intra_op: { allow_spinning: '0' } } },
        });
      } catch (err) {
        throw new FacestreamError('FS_ERR_MODEL', `${file}: onnxruntime could not load it (${(err as Error).message.split('\n')[0]})`);
      }
      stats.sessions++;
      let released = false;
      return {
        inputNames: session.inputNames, outputNames: session.outputNames,
        run: (feeds) => queued(async () => {
          const t0 = performance.now();
          const input = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
          const out = await session.run(input);
          stats.runs++;
          stats.ms += performance.now() - t0;
          const result: OnnxOutputs = {};
          for (const [k, t] of Object.entries(out)) {
            result[k] = { data: t.data as Float32Array, dims: t.dims };
            t.dispose?.();
          }
          return result;
        }),
        dispose: async () => {
          if (released) return;
          released = true;
          stats.sessions--;
          await session.release();
        },
      };
    },
  };
}

/** onnxruntime-node when it loads, else why not (for the lab's tools as well as the engine). */
export function requireOnnxRuntime(): { ort?: OnnxRuntime; why?: string } {
  try {
    return { ort: require('onnxruntime-node') as OnnxRuntime };
  } catch (err) {
    return { why: `onnxruntime-node did not load: ${(err as Error).message.split('\n')[0]}` };
  }
}

let chosen: Promise<{ info: EngineInfo; engine?: OnnxEngine }> | undefined;

async function choose(): Promise<{ info: EngineInfo; engine?: OnnxEngine }> {
  const choice = parseEngineChoice(process.env.FACESTREAM_ENGINE);
  const tfjs = await initRuntime({ quiet: true });
  const onTfjs = (skipped?: string): { info: EngineInfo } => ({ info: { choice, engine: 'tfjs', detail: `tfjs ${tfjs.backend}`, ...(skipped ? { skipped } : {}) } });
  if (choice === 'tfjs') return onTfjs();
  // the design's GPU path: tfjs' native backend, when it runs, keeps the networks
  if (choice === 'auto' && tfjs.backend === 'tensorflow') return onTfjs('tfjs runs natively (tfjs-node)');
  const { ort, why } = requireOnnxRuntime();
  if (!ort) {
    if (choice === 'onnx') throw new FacestreamError('FS_ERR_BACKEND', `FACESTREAM_ENGINE=onnx: ${why}; install it (npm install onnxruntime-node) or unset FACESTREAM_ENGINE`);
    return onTfjs(why);
  }
  const threads = parseThreads(process.env.FACESTREAM_ENGINE_THREADS);
  const provider = (process.env.FACESTREAM_ENGINE_PROVIDER ?? 'cpu').toLowerCase() === 'cuda' ? 'cuda' : 'cpu';
  const engine = createEngine(ort, threads, provider);
  return { info: { choice, engine: 'onnxruntime', detail: `onnxruntime-node ${engine.version}, ${provider}, ${threads} thread${threads > 1 ? 's' : ''}` }, engine };
}

/**
 * The process's engine: onnxruntime when chosen (see the file's comment), else undefined
 * (the networks run on tfjs). Logged once.
 */
export function onnxEngine(): Promise<OnnxEngine | undefined> {
  return engineInfo().then(() => chosen!).then((c) => c.engine);
}

export function engineInfo(): Promise<EngineInfo> {
  if (!chosen) {
    chosen = choose();
    // once per process: detector worker threads make the same choice quietly
    chosen.then((c) => (isMainThread ? log.info : log.debug).call(log, `inference engine: ${c.info.detail}${c.info.skipped ? ` (onnxruntime skipped: ${c.info.skipped})` : ''}`), () => undefined);
    chosen.catch(() => { chosen = undefined; });
  }
  return chosen.then((c) => c.info);
}

/** Forget the choice (tests that switch FACESTREAM_ENGINE). */
export function resetEngineChoice(): void {
  chosen = undefined;
}
