/**
 * Data-parallel training on both cores. tfjs' wasm backend runs one thread per Node
 * thread (its own threads cannot start under Node), so `facestream train attributes
 * --threads N` computes each batch's gradients in N threads: this one and N-1 worker
 * threads, each holding a replica of the network. Per step the main thread sends each
 * worker the current trainable weights and its share of the batch, computes its own
 * share meanwhile, averages the gradients and applies them with its optimizer: one
 * optimizer, one set of weights, as with one thread and a batch split across devices.
 * BatchNorm statistics are those of each share (as on several GPUs), and the moving
 * averages kept are the main thread's. A worker that fails fails the step with its error.
 */
import { Worker } from 'node:worker_threads';
import { FacestreamError } from '../../src/errors.ts';
import { tf } from '../../src/runtime/index.ts';
import { multiTaskLoss, type Batch } from './attributes.ts';

const ENTRY = new URL('../../src/runtime/worker-entry.js', import.meta.url);
const MODULE = new URL('./parallel-worker.ts', import.meta.url).href;

/** A batch as plain arrays, to cross a thread boundary. */
export interface WireBatch { x: Float32Array; xShape: number[]; labels: Record<string, { data: Float32Array; shape: number[] }> }

export function toWire(b: Batch): WireBatch {
  return {
    x: (b.x.dataSync() as Float32Array).slice(), xShape: b.x.shape,
    labels: Object.fromEntries(Object.entries(b.labels).map(([k, t]) => [k, { data: (t.dataSync() as Float32Array).slice(), shape: t.shape }])),
  };
}

export function fromWire(w: WireBatch): Batch {
  return {
    x: tf.tensor4d(w.x, w.xShape as [number, number, number, number]),
    labels: Object.fromEntries(Object.entries(w.labels).map(([k, t]) => [k, tf.tensor(t.data, t.shape)])) as Batch['labels'],
  };
}

/** The trainable variables of a layers model, in layer order (the same on every replica). */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Loss and gradients of one share of a batch, as arrays in `trainableVariables` order;
 * an empty array for a variable the loss does not reach (the SA heads, trained later).
 */
export function shareGradients(model: tf.LayersModel, vars: tf.Variable[], b: Batch): { loss: number; grads: Float32Array[] } {
  const { value, grads } = tf.variableGrads(() => multiTaskLoss(model.apply(b.x, { training: true }) as tf.Tensor[], b.labels).total, vars);
  const out = vars.map((v) => (grads[v.name]?.dataSync().slice() ?? new Float32Array(0)) as Float32Array);
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

interface Pending { resolve: (r: { loss: number; grads: Float32Array[] }) => void; reject: (e: Error) => void }

export class GradientThreads {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: { id?: number; loss?: number; grads?: Float32Array[]; error?: string }) => {
        if (m.id === undefined) return;
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.error) p.reject(new FacestreamError('FS_ERR_MODEL', `training thread: ${m.error}`));
        else p.resolve({ loss: m.loss!, grads: m.grads! });
      });
      w.on('error', (e) => this.fail(new FacestreamError('FS_ERR_MODEL', `training thread died: ${e.message}`)));
      w.on('exit', (code) => { if (code !== 0) this.fail(new FacestreamError('FS_ERR_MODEL', `training thread exited with code ${code}`)); });
    }
  }

  private fail(e: Error) {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Starts `n - 1` worker threads (n threads in all, this one included), each with a replica of `model`'s shapes. */
  static async start(model: tf.LayersModel, n: number): Promise<GradientThreads> {
    const shapes = model.trainableWeights.map((w) => w.shape as number[]);
    const workers: Worker[] = [];
    const shape = model.inputs[0]!.shape;
    const inputSize = shape.length === 4 ? (shape[1] as number) : undefined; // else the replicas refuse it by its weights
    for (let i = 1; i < n; i++) workers.push(new Worker(ENTRY, { workerData: { module: MODULE, shapes, inputSize } }));
    const t = new GradientThreads(workers);
    try {
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        const on = (m: { ready?: boolean; error?: string }) => {
          if (m.ready === undefined) return;
          w.off('message', on);
          if (m.ready) resolve(); else reject(new FacestreamError('FS_ERR_MODEL', `training thread failed to start: ${m.error}`));
        };
        w.on('message', on);
        w.once('error', reject);
      })));
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  get size(): number { return this.workers.length + 1; }

  /**
   * One optimizer step on `shares` (shares[0] computed here, shares[i] in worker i-1): the
   * mean of the shares' gradients applied by `optimizer`; returns the mean loss.
   * `dropSeed`: this step's dropout seed (each worker derives its own from it).
   */
  async step(model: tf.LayersModel, optimizer: tf.Optimizer, shares: Batch[], dropSeed?: number): Promise<number> {
    if (this.failure) throw this.failure;
    if (shares.length !== this.size) throw new Error(`GradientThreads.step: ${shares.length} shares for ${this.size} threads`);
    const vars = trainableVariables(model);
    const current = vars.map((v) => v.dataSync() as Float32Array); // read once; each worker gets its own copy to transfer
    const jobs = this.workers.map((w, i) => {
      const id = this.nextId++;
      const weights = current.map((a) => a.slice());
      const batch = toWire(shares[i + 1]!);
      const transfer = [...weights.map((a) => a.buffer), batch.x.buffer, ...Object.values(batch.labels).map((l) => l.data.buffer)];
      const p = new Promise<{ loss: number; grads: Float32Array[] }>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      w.postMessage({ id, weights, batch, dropSeed: dropSeed === undefined ? undefined : dropSeed + 1000 * (i + 1) }, transfer as ArrayBuffer[]);
      return p;
    });
    const mine = shareGradients(model, vars, shares[0]!);
    const theirs = await Promise.all(jobs);
    const all = [mine, ...theirs];
    const named: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      if (all.every((r) => r.grads[i]!.length === 0)) return; // not reached by the loss: left as it is
      const sum = new Float32Array(v.size);
      for (const r of all) { const g = r.grads[i]!; for (let j = 0; j < g.length; j++) sum[j] += g[j]!; }
      for (let j = 0; j < sum.length; j++) sum[j] /= all.length;
      named[v.name] = tf.tensor(sum, v.shape);
    });
    optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    return all.reduce((a, r) => a + r.loss, 0) / all.length;
  }

  async close(): Promise<void> {
    this.fail(new FacestreamError('FS_ERR_MODEL', 'training threads closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Splits batch rows into `n` nearly equal consecutive shares. */
export function splitShares<T>(rows: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < n; i++) out.push(rows.slice(Math.round((i * rows.length) / n), Math.round(((i + 1) * rows.length) / n)));
  return out;
}
