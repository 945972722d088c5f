/** A training thread of src/train/parallel.ts: a replica of the attribute network that returns gradients. */
import { parentPort, workerData } from 'node:worker_threads';
import { initRuntime, tf } from '../runtime.ts';
import { buildAttributeNet, setDropoutSeeds } from '../models/attributes-net.ts';
import { fromWire, shareGradients, trainableVariables, type WireBatch } from './parallel.ts';
import { disposeBatch } from './attributes.ts';

const port = parentPort!;
try {
  await initRuntime({ quiet: true });
  const { shapes, inputSize } = workerData as { shapes: number[][]; inputSize?: number };
  const model = buildAttributeNet({ seed: 1, inputSize });
  const vars = trainableVariables(model);
  const mine = vars.map((v) => v.shape.join('x')).join(',');
  if (mine !== shapes.map((s) => s.join('x')).join(',')) throw new Error(`the network to train has other weight shapes than this thread's replica (${shapes.length} vs ${vars.length} tensors)`);
  port.on('message', (m: { id: number; weights: Float32Array[]; batch: WireBatch; dropSeed?: number }) => {
    try {
      if (m.dropSeed !== undefined) setDropoutSeeds(model, m.dropSeed);
      tf.tidy(() => m.weights.forEach((w, i) => vars[i]!.assign(tf.tensor(w, vars[i]!.shape))));
      const b = fromWire(m.batch);
      const r = shareGradients(model, vars, b);
      disposeBatch(b);
      port.postMessage({ id: m.id, loss: r.loss, grads: r.grads }, r.grads.map((g) => g.buffer as ArrayBuffer));
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: (e as Error).message });
}
