/**
 * `facestream bench` (or `npm run bench`): every stage in one run, on this machine, as
 * ratios where possible: decode, detect, the attribute model and TRGAN, the neural core
 * (fold), facestream against its peers on the same frames, and the whole pipeline on one
 * and on four live streams. `--json` prints one object; without it, a table.
 */
import os from 'node:os';
import { benchDecode } from './decode.ts';
import { benchDetect } from './detect.ts';
import { benchE2e } from './e2e.ts';
import { benchEngines } from './engines.ts';
import { benchFold } from './fold.ts';
import { benchModels } from './models.ts';
import { benchPeers } from './peers.ts';
import { progress } from '../../src/progress.ts';

export async function benchAll() {
  const cpu = os.cpus();
  const t0 = Date.now();
  // one bar over the stages: a run takes several minutes
  const bar = progress('bench', 7, { stage: 'decode' });
  const stage = async <T>(i: number, name: string, run: () => Promise<T>): Promise<T> => {
    bar.update(i, { stage: name });
    return run();
  };
  const decode = await stage(0, 'decode', benchDecode);
  const detect = await stage(1, 'detect', benchDetect);
  const models = await stage(2, 'models', benchModels);
  const fold = await stage(3, 'fold', benchFold);
  const peers = await stage(4, 'peers', () => benchPeers());
  const engines = await stage(5, 'engines', () => benchEngines());
  const e2e = await stage(6, 'e2e', () => benchE2e());
  bar.update(7, { stage: 'done' });
  bar.stop();
  return {
    machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, tfjs backend ${models.backend}`,
    date: new Date().toISOString(),
    e2e: e2e,
    peers: peers.peers, facestream: peers.facestream, speedupVsBestPeer: peers.speedupVsBestPeer, peerFrames: `${peers.frames} frames of ${peers.clip} (${peers.size}) at 10 fps`,
    engine: engines.engine, engines,
    attributes: models.attributes, superres: models.superres, detect: detect.detectors, decode, fold,
    seconds: Math.round((Date.now() - t0) / 1000),
  };
}

type All = Awaited<ReturnType<typeof benchAll>>;

export function benchTable(r: All): string {
  const rows: Array<[string, string]> = [
    ['machine', r.machine],
    ['end to end, 1 stream (720p, 10 fps asked)', `${r.e2e.streams1.fps} fps, p50 ${r.e2e.streams1.p50Ms} ms, p95 ${r.e2e.streams1.p95Ms} ms, dropped ${r.e2e.streams1.dropped}`],
    ['engine', r.engine],
    ['native peak (1024^3 matmul)', `${r.engines.peakGflops.native} GFLOP/s at ${r.engines.peakGflops.threads} threads (${r.engines.peakGflops.native1} at 1; tfjs ${r.engines.peakGflops.tfjs})`],
    ['attributes faces/s batch 32, onnx / tfjs', `${r.engines.attributes.onnxBatch32} / ${r.engines.attributes.tfjsBatch32} (${r.engines.attributes.onnxOverTfjsBatch32}x), ${r.engines.attributes.onnxGflops} GFLOP/s = ${r.engines.attributes.shareOfNativePeak} of the native peak`],
    ['detector ms/frame, onnx / tfjs (talking; crowd)', JSON.stringify({ onnx: r.engines.detect.onnx, tfjs: r.engines.detect.tfjs, speedupTalking: r.engines.detect.speedupTalking, speedupCrowd: r.engines.detect.speedupCrowd })],
    ['end to end, 4 streams (10 fps asked each)', `${r.e2e.streams4at10.fps} fps each (slowest ${r.e2e.streams4at10.minFps}), p50 ${r.e2e.streams4at10.p50Ms} ms, p95 ${r.e2e.streams4at10.p95Ms} ms, dropped ${r.e2e.streams4at10.dropped}`],
    ['end to end, 4 streams (5 fps asked each)', `${r.e2e.streams4.fps} fps each (slowest ${r.e2e.streams4.minFps}), p50 ${r.e2e.streams4.p50Ms} ms, p95 ${r.e2e.streams4.p95Ms} ms, dropped ${r.e2e.streams4.dropped}`],
    ['overload: 8 streams (10 fps asked each)', `${r.e2e.overload.fps} fps each, p95 ${r.e2e.overload.p95Ms} ms, dropped ${r.e2e.overload.dropped} of ${r.e2e.overload.frames}`],
    ['capacity, 4 streams as fast as possible', `${r.e2e.capacity.workers0.totalFps} fps without workers, ${r.e2e.capacity.workersAuto.totalFps} fps with ${r.e2e.capacity.workers} (${r.e2e.capacity.workerSpeedup}x)`],
    ['attribute batches (1 and 4 streams)', `${r.e2e.attributeBatches.batches} batches, ${r.e2e.attributeBatches.meanCrops} crops each on average, largest ${r.e2e.attributeBatches.largest}`],
    ['memory over the 4-stream run (RSS first/last/max)', `${r.e2e.streams4.memory.rssMb.join(' / ')} MB, tensors ${r.e2e.streams4.memory.tensors.join(' / ')}`],
    [`facestream, ${r.peerFrames}`, `${r.facestream.fps} fps, recall ${r.facestream.recall}`],
    ['human (every frame analysed)', `${r.peers.human.fps} fps, recall ${r.peers.human.recall}`],
    ['human (its frame cache on)', `${r.peers.humanCached.fps} fps, recall ${r.peers.humanCached.recall}`],
    ['face-api', `${r.peers.faceapi.fps} fps, recall ${r.peers.faceapi.recall}`],
    ['speed-up vs the faster peer', `${r.speedupVsBestPeer}x`],
    ['attributes faces/s batch 1 / batch 32', `${r.attributes.batch1} / ${r.attributes.batch32} (${r.attributes.batchSpeedup}x)`],
    ['attributes fused / unfused (batch 32)', `${r.attributes.fused} / ${r.attributes.unfused} (${r.attributes.fusedSpeedup}x)`],
    ['attributes efficiency', `${r.attributes.efficiency} (${r.attributes.mflopsPerFace} MFLOP/face, peak ${r.attributes.peakGflops} GFLOP/s)`],
    ['superres ms/face', Object.entries(r.superres).map(([k, v]) => `${k} ${v}`).join(', ')],
    ...r.detect.map((d) => [`detect ${d.detector}`, `${d.talkingMsPerFrame} ms/frame, recall ${d.talkingRecall}; crowd ${d.crowdFacesPerFrame} faces/frame`] as [string, string]),
    ['decode', JSON.stringify(r.decode)],
    ['neural core (fold)', JSON.stringify(r.fold)],
    ['bench took', `${r.seconds} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
