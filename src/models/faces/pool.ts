/**
 * Detectors in worker threads: wasm runs one thread per Node thread, so a second core is
 * only used by a second thread. `openDetectorPool(options, size)` starts `size` workers (each
 * with its own runtime and copy of the models) and sends each request to the least busy
 * one; the detect element keeps one pool per detector setting in the app's shared
 * resources, so all its streams share it and it is closed when the app stops. A frame is copied
 * once into the request (the pipeline keeps its own for alignment).
 *
 * A worker that dies fails its pending requests with an error naming it and is replaced
 * for the next ones; idle workers never keep the process alive.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FacestreamError } from '../../errors.ts';
import type { DetectedFace, DetectorOptions } from './detector.ts';

type Image = { width: number; height: number; data: Uint8Array };

export interface DetectorPool {
  readonly size: number;
  /** Resolves once every worker has loaded its models (rejects with the first start-up error). */
  ready(): Promise<void>;
  detect(image: Image): Promise<DetectedFace[]>;
  refine(image: Image, faces: DetectedFace[]): Promise<DetectedFace[]>;
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('../../runtime/worker-entry.js', import.meta.url));
// .ts in a clone (run through tsx), .js in the built package
const MODULE = new URL(`./detect-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href;

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (f: DetectedFace[]) => void; reject: (e: Error) => void }>;
  dead?: boolean;
}

/**
 * `auto`: one worker per core (at most 4; none on one core). Detection and landmarks are
 * most of a frame's work; the main thread's share (parsing frames, tracking, alignment,
 * the batched attribute model) is small. Measured with `facestream bench e2e` (capacity):
 * on 2 cores, 2 workers analysed 1.35x the frames/s of none, 1 worker 1.03x.
 */
export function autoWorkers(): number {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  return cores <= 1 ? 0 : Math.min(4, cores);
}

export function startDetectorPool(options: DetectorOptions, size: number): DetectorPool {
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];

  const spawn = (): Slot => {
    const worker = new Worker(ENTRY, { workerData: { module: MODULE, options } });
    const slot: Slot = { worker, pending: new Map(), ready: undefined as unknown as Promise<void> };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onFirst = (m: { ready?: boolean; error?: string; code?: string }) => {
        if (m.ready === undefined) return;
        if (m.ready) resolve();
        else reject(new FacestreamError((m.code as 'FS_ERR_MODEL') ?? 'FS_ERR_MODEL', m.error ?? 'detector worker failed to start'));
      };
      worker.on('message', onFirst);
    });
    slot.ready.catch(() => {});
    worker.on('message', (m: { id?: number; faces?: DetectedFace[]; error?: string }) => {
      if (m.id === undefined) return;
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (!slot.pending.size) worker.unref();
      if (m.error) p.reject(new FacestreamError('FS_ERR_MODEL', `detector worker: ${m.error}`));
      else p.resolve(m.faces ?? []);
    });
    const fail = (why: string) => {
      if (slot.dead) return;
      slot.dead = true;
      for (const p of slot.pending.values()) p.reject(new FacestreamError('FS_ERR_MODEL', `detector worker ${worker.threadId} ${why}`));
      slot.pending.clear();
      const i = slots.indexOf(slot);
      if (i >= 0 && !closed) slots[i] = spawn(); // replaced for the next requests
    };
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => { if (!closed) fail(`exited with code ${code}`); });
    // Held while it starts and while requests are pending, released when idle (attaching a
    // 'message' listener refs a worker, so this comes after the listeners).
    const idle = () => { if (!slot.pending.size) worker.unref(); };
    slot.ready.then(idle, idle);
    return slot;
  };
  for (let i = 0; i < size; i++) slots.push(spawn());

  const call = async (op: 'detect' | 'refine', image: Image, faces?: DetectedFace[]): Promise<DetectedFace[]> => {
    if (closed) throw new FacestreamError('FS_ERR_MODEL', 'detector pool is closed');
    const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    await slot.ready;
    const id = nextId++;
    const data = image.data.slice(); // exactly the frame's bytes, moved (not copied again) to the worker
    return new Promise<DetectedFace[]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage({ id, op, image: { width: image.width, height: image.height, data }, faces }, [data.buffer]);
    });
  };

  return {
    size,
    ready: async () => { await Promise.all(slots.map((s) => s.ready)); },
    detect: (image) => call('detect', image),
    refine: (image, faces) => call('refine', image, faces),
    async close() {
      closed = true;
      await Promise.all(slots.map(async (s) => {
        for (const p of s.pending.values()) p.reject(new FacestreamError('FS_ERR_MODEL', 'detector pool closed'));
        s.pending.clear();
        await s.worker.terminate();
      }));
    },
  };
}

/** Starts a pool and waits until its workers have loaded their models (closing it if they cannot). */
export async function openDetectorPool(options: DetectorOptions, size: number): Promise<DetectorPool> {
  const pool = startDetectorPool(options, size);
  try {
    await pool.ready();
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
