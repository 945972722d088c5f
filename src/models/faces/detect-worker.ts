/**
 * A detector in a worker thread (its own tfjs wasm runtime, so on its own core). Messages:
 * `{ id, op: 'detect' | 'refine', image, faces? }` in, `{ id, faces }` or `{ id, error }` out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage, FacestreamError } from '../../errors.ts';
import { loadDetector, type DetectedFace, type DetectorOptions } from './detector.ts';

interface Request { id: number; op: 'detect' | 'refine'; image: { width: number; height: number; data: Uint8Array }; faces?: DetectedFace[] }

const port = parentPort!;
const ready = loadDetector((workerData as { options: DetectorOptions }).options);
ready.then(() => port.postMessage({ ready: true }), (err) => port.postMessage({ ready: false, error: errorMessage(err), code: err instanceof FacestreamError ? err.code : undefined }));

port.on('message', async (req: Request) => {
  try {
    const d = await ready;
    const faces = req.op === 'refine' ? await d.refine(req.image, req.faces ?? []) : await d.detect(req.image);
    port.postMessage({ id: req.id, faces });
  } catch (err) {
    port.postMessage({ id: req.id, error: errorMessage(err) });
  }
});
