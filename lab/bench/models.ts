/**
 * `facestream bench models --json`: the shipped models' inference speed in one run.
 *   attributes: faces/s at batch 1 and 32 (the shipped, folded model) and unfolded at
 *     batch 32 (the same architecture with its BatchNorm layers); the model's FLOPs per
 *     face (2 x multiply-adds of its conv and dense layers) and the backend's measured peak
 *     (a 1024^3 matmul), so efficiency = achieved / peak.
 *   superres: TRGAN x4 / x8 and the esrgan-slim peer, ms per face at batch 32.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/data.ts';
import { INPUT_SIZE, inputSide } from '../../src/models/attributes/network.ts';
import { buildAttributeNet } from '../models/attributes-net.ts';
import { loadModel } from '../../src/models/io.ts';
import { loadEsrgan } from '../train/evaluate-superres.ts';
import { initRuntime, tf } from '../runtime.ts';
import { median } from './stats.ts';

function timeIt(f: () => void, runs = 7, warmup = 2): number {
  for (let i = 0; i < warmup; i++) f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); }
  return median(t);
}

/** 2 x multiply-adds of the conv and dense layers, per input sample. */
export function flopsPerSample(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const w = layer.getWeights()[0];
    if (!w) continue;
    if (cls === 'Conv2D') {
      const out = layer.outputShape as number[];
      const [kh, kw, cin, cout] = w.shape as number[];
      macs += out[1]! * out[2]! * kh! * kw! * cin! * cout!;
    } else if (cls === 'Dense') {
      // a Dense on a [batch, ..., in] tensor multiplies every position of the middle axes
      // (the in-graph resize of a mixed-size ensemble); on a feature vector that is 1
      const out = layer.outputShape as number[];
      const positions = out.slice(1, -1).reduce((a, d) => a * d!, 1);
      macs += positions * w.shape[0]! * w.shape[1]!;
    }
  }
  return 2 * macs;
}

export async function benchModels() {
  const info = await initRuntime();
  const run = (m: tf.LayersModel, x: tf.Tensor) => () => tf.tidy(() => {
    const out = m.predict(x);
    (Array.isArray(out) ? out : [out]).forEach((t) => t.dataSync());
  });
  // backend peak: one large matmul
  const a = tf.randomNormal([1024, 1024]);
  const b = tf.randomNormal([1024, 1024]);
  const mmMs = timeIt(() => tf.tidy(() => { tf.matMul(a, b).dataSync(); }), 5, 1);
  const peakGflops = (2 * 1024 ** 3) / (mmMs / 1000) / 1e9;
  tf.dispose([a, b]);

  const folded = await loadModel(path.join(PROJECT_ROOT, 'models', 'attributes'));
  // An ensemble (train ensemble) runs several networks per face: the unfolded side of
  // the fused/unfused ratio runs as many unfolded networks.
  // Members may take crops of other sizes (the merged model resizes for them in its graph).
  const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'models', 'attributes', 'manifest.json'), 'utf8')) as { ensemble?: { members: Array<{ input?: number[] }> } };
  const side = inputSide(folded);
  const sides = manifest.ensemble?.members.map((m) => m.input?.[0] ?? INPUT_SIZE) ?? [side];
  const members = sides.length;
  const unfoldedNets = sides.map((s, i) => buildAttributeNet({ seed: i + 1, inputSize: s }));
  const x1 = tf.randomUniform([1, side, side, 3]);
  const x32 = tf.randomUniform([32, side, side, 3]);
  const xs = sides.map((s) => tf.randomUniform([32, s, s, 3]));
  const b1 = timeIt(run(folded, x1), 15);
  const b32 = timeIt(run(folded, x32));
  const u32 = timeIt(() => unfoldedNets.forEach((u, i) => run(u, xs[i]!)()));
  const flops = flopsPerSample(folded);
  const batch32 = 32000 / b32;
  const attributes = {
    batch1: +(1000 / b1).toFixed(1), batch32: +batch32.toFixed(1), batchSpeedup: +((1000 / b1) ? batch32 / (1000 / b1) : 0).toFixed(2),
    fused: +batch32.toFixed(1), unfused: +(32000 / u32).toFixed(1), fusedSpeedup: +(u32 / b32).toFixed(2),
    mflopsPerFace: +(flops / 1e6).toFixed(1), peakGflops: +peakGflops.toFixed(2),
    efficiency: +((flops * batch32) / 1e9 / peakGflops).toFixed(3), members,
  };
  tf.dispose([x1, x32, ...xs]);
  folded.dispose();
  unfoldedNets.forEach((u) => u.dispose());

  const superres: Record<string, number> = {};
  for (const scale of [4, 8]) {
    const x = tf.randomUniform([32, 64 / scale, 64 / scale, 3]);
    const g = await loadModel(path.join(PROJECT_ROOT, 'models', 'superres', `x${scale}`)).catch(() => undefined);
    if (g) { superres[`trganX${scale}MsPerFace`] = +(timeIt(run(g, x), 5) / 32).toFixed(2); g.dispose(); }
    const e = await loadEsrgan(scale);
    const x255 = tf.mul(x, 255);
    superres[`esrganX${scale}MsPerFace`] = +(timeIt(run(e, x255), 3, 1) / 32).toFixed(2);
    tf.dispose([x, x255]);
    e.dispose();
  }
  const cpu = os.cpus();
  return { backend: info.backend, machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, node ${process.version}`, attributes, superres };
}
