/**
 * `attributes`: the multi-task attribute model on the aligned crops of a frame, in one
 * batch (at most `maxBatch` crops), each track re-classified at most every
 * `intervalMs`; per track the answers are smoothed by their SA confidence
 * (src/calculators/smooth.ts) and reported in track.updated / track.ended.
 *
 * @example
 *   - attributes: { maxBatch: 32, intervalMs: 400 }
 */
import { z } from 'zod';
import { addClass, addScalar, newClassAcc, scalarMean, smoothedClass } from '../calculators/smooth.ts';
import { loadAttributeModel, type AttributeModel, type Attributes } from '../models/attributes/model.ts';
import { batcher, type Batcher } from '../models/batcher.ts';
import type { Crop } from '../models/batch.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { AnalysedFrame, FaceObservation, TrackAttributeAcc, TrackState } from '../pipeline/types.ts';

export const attributesOptions = z.strictObject({
  model: z.string().optional().describe('Folder of the model (model.json + weights); by default the shipped models/attributes.'),
  maxBatch: z.number().int().min(1).max(256).default(32),
  intervalMs: z.number().int().min(0).max(60_000).default(400).describe('Minimum time between two classifications of one track.'),
  stableIntervalMs: z.number().int().min(0).max(600_000).default(2000).describe('The interval once a track\'s answers are stable (unchanged over `stableAfter` classifications).'),
  stableAfter: z.number().int().min(1).max(100).default(3),
  maxWaitMs: z.number().int().min(0).max(1000).default(15).describe('Crops of all streams of the process share one batch: a batch runs when `maxBatch` crops wait or `maxWaitMs` after the first (0: each frame\'s crops at once).'),
});

const models = new Map<string, Promise<AttributeModel>>();
const batchers = new Map<string, Batcher<Crop, Attributes>>();

/** Batches run and crops classified by the shared batchers of this process (for benchmarks and metrics). */
export function attributeBatchStats(): { batches: number; crops: number; largest: number } {
  let batches = 0, crops = 0, largest = 0;
  for (const b of batchers.values()) { batches += b.stats.batches; crops += b.stats.inputs; largest = Math.max(largest, b.stats.largest); }
  return { batches, crops, largest };
}

export function trackAttributes(t: TrackState) {
  const a = t.attributes;
  if (!a) return undefined;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const cls = (acc: TrackAttributeAcc['gender']) => {
    const s = smoothedClass(acc);
    return s && { value: s.value, probability: r3(s.probability), confidence: r3(s.confidence), grade: s.grade, frames: s.frames };
  };
  const age = scalarMean(a.age);
  return {
    gender: cls(a.gender),
    ageGroup: cls(a.ageGroup),
    age: age == null ? undefined : Math.round(age * 10) / 10,
    smiling: cls(a.smiling),
    celeba: Object.fromEntries(Object.entries(a.celeba).map(([k, v]) => [k, r3(scalarMean(v) ?? 0)])),
  };
}

registerElement({
  name: 'attributes',
  description: 'gender, age, smile and the 40 CelebA attributes per track, with SA confidence and grade',
  options: attributesOptions,
  create: async (o, ctx) => {
    const key = o.model ?? '';
    if (!models.has(key)) {
      const p = loadAttributeModel(o.model);
      models.set(key, p);
      p.catch(() => models.delete(key));
    }
    const model = await models.get(key)!;
    const bkey = JSON.stringify([key, o.maxBatch, o.maxWaitMs]);
    if (!batchers.has(bkey)) batchers.set(bkey, batcher((crops: Crop[]) => model.predict(crops), { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs }));
    const shared = batchers.get(bkey)!;
    shared.users++;
    let disposed = false;
    return {
      dispose() {
        if (!disposed) shared.users--;
        disposed = true;
      },
      async process(item: AnalysedFrame): Promise<AnalysedFrame> {
        const now = item.frame.ptsMs;
        const due = (t: TrackState) => {
          const a = t.attributes;
          if (!a) return true;
          const interval = a.unchangedFor >= o.stableAfter ? o.stableIntervalMs : o.intervalMs;
          return now - a.lastClassifiedMs >= interval;
        };
        const todo: FaceObservation[] = item.faces.filter((f) => f.crop && f.track && due(f.track)).slice(0, o.maxBatch);
        if (!todo.length) return item;
        const answers = await shared.run(todo.map((f) => f.crop!));
        ctx.count('faces.classified', todo.length);
        ctx.count('attributes.batches');
        todo.forEach((face, i) => {
          const a = answers[i]!;
          face.attributes = a;
          const t = face.track!;
          const acc = (t.attributes ??= {
            gender: newClassAcc(), ageGroup: newClassAcc(), smiling: newClassAcc(), age: { weight: 0, sum: 0 }, celeba: {},
            lastClassifiedMs: now, answer: '', unchangedFor: 0,
          });
          acc.lastClassifiedMs = now;
          addClass(acc.gender, a.gender);
          addClass(acc.ageGroup, a.ageGroup);
          addClass(acc.smiling, a.smiling);
          addScalar(acc.age, a.age, Math.max(1e-6, a.ageGroup.confidence));
          for (const [k, p] of Object.entries(a.celeba)) addScalar((acc.celeba[k] ??= { weight: 0, sum: 0 }), p, 1);
          // stable = the smoothed answers did not change; then the track is classified less often
          const answer = [acc.gender, acc.ageGroup, acc.smiling].map((c) => smoothedClass(c)?.value).join('|');
          acc.unchangedFor = answer === acc.answer ? acc.unchangedFor + 1 : 0;
          acc.answer = answer;
        });
        return item;
      },
    };
  },
});
