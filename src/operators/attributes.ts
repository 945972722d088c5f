/**
 * `attributes`: the multi-task attribute model on the aligned crops of a frame, in one
 * batch (at most `maxBatch` crops), each track re-classified at most every `intervalMs`
 * (every `stableIntervalMs` once its smoothed answers stopped changing). Each classified
 * face gets this frame's answers (`face.attributes`); `report` smooths them per track by
 * their SA confidence and reports them. Gender checks (`checks`, both by default): a
 * second network trained apart (`network`: models/attributes-check) answers gender on the
 * same crops, and face-api's age/gender net (`face-api`) on the detector's box a few times a
 * track; `report` withholds a track's gender when a check disagrees with it
 * (track.grading.genderCheck). face-api's age and gender on those looks go into the track's
 * age and gender value with the shares `faceApiAgeShare` and `faceApiGenderShare`.
 *
 * @example
 *   - attributes: { maxBatch: 32, intervalMs: 400 }
 */
import { z } from 'zod';
import { addAnswers, answersKey, FACE_API_AGE_SHARE, FACE_API_GENDER_SHARE, newTrackAnswers, type TrackAnswersAcc } from '../calculators/smooth.ts';
import { DEFAULT_CHECK_MODEL_DIR, loadAttributeModel, type AttributeModel, type Attributes } from '../models/attributes/model.ts';
import { loadFaceApiAgeGender, type FaceApiAgeGenderNet } from '../models/attributes/faceapi-age-gender.ts';
import { clipToImage } from '../calculators/geometry.ts';
import { cropRgb } from '../calculators/picture.ts';
import { batcher, type Batcher } from '../models/batcher.ts';
import type { Crop } from '../models/batch.ts';
import { registerElement } from '../pipeline/registry.ts';
import type { SharedResources } from '../pipeline/shared.ts';
import type { AnalysedFrame, FaceObservation } from '../pipeline/types.ts';

/** When a track was last classified and how stable its answers are: this element's own state, per track. */
interface Schedule { lastClassifiedMs: number; answers: TrackAnswersAcc; key: string; unchangedFor: number; faceApiLooks: number; lastFaceApiMs: number }

export const attributesOptions = z.strictObject({
  model: z.string().optional().describe('Folder of the model (model.json + weights); by default the shipped models/attributes.'),
  maxBatch: z.number().int().min(1).max(256).default(32),
  intervalMs: z.number().int().min(0).max(60_000).default(400).describe('Minimum time between two classifications of one track.'),
  stableIntervalMs: z.number().int().min(0).max(600_000).default(2000).describe('The interval once a track\'s answers are stable (unchanged over `stableAfter` classifications).'),
  stableAfter: z.number().int().min(1).max(100).default(3),
  checks: z.array(z.enum(['network', 'face-api'])).default(['network', 'face-api']).describe('Gender checks: a track whose gender a check answers otherwise has it withheld (graded C, see track.grading.genderCheck). `network`: a second network trained apart on more faces (models/attributes-check), on the same crops, about half the main model\'s compute again; `face-api`: face-api\'s age/gender net on the detector\'s box, `faceApiLooks` times a track at most (tfjs, about 12 ms a face). [] turns them off.'),
  checkModel: z.string().optional().describe('Folder of the `network` check; by default the shipped models/attributes-check.'),
  faceApiLooks: z.number().int().min(1).max(100).default(5).describe('face-api (the `face-api` check, `faceApiAgeShare`) looks at a track at most this many times...'),
  faceApiIntervalMs: z.number().int().min(0).max(60_000).default(1000).describe('...and at most this often.'),
  faceApiAgeShare: z.number().min(0).max(1).default(FACE_API_AGE_SHARE).describe('The share of face-api\'s age (the mean over its looks at the track) in the track\'s age, the attribute model\'s taking the rest; 0: the attribute model\'s age alone. Above 0 (this or `faceApiGenderShare`), face-api looks at tracks (`faceApiLooks`) even when `checks` leaves it out. On four video draws made after it was chosen, the age error fell from 5.0 to 3.9 years, adults\' (20-59) from 6.9 to 5.3 (docs/models.md).'),
  faceApiGenderShare: z.number().min(0).max(1).default(FACE_API_GENDER_SHARE).describe('The share of face-api\'s gender (the log-odds of its mean probability over its looks) in the track\'s gender, the network\'s vote taking the rest: the value and probability the events carry; the grade stays the network\'s (and a `face-api` check that disagrees withholds it). 0: the network\'s gender alone. On faces face-api never trained on, 0.5 was above both models alone, and above 0.6 below the network (docs/models.md).'),
  maxWaitMs: z.number().int().min(0).max(1000).default(15).describe('Crops of all streams of the process share one batch: a batch runs when `maxBatch` crops wait or `maxWaitMs` after the first (0: each frame\'s crops at once).'),
});

const BATCHER = 'attributes:batcher:';
/** The check network's batchers: not counted in attributeBatchStats (the faces classified are the main model's). */
const CHECK_BATCHER = 'attributes:check-batcher:';

/** Batches run and crops classified by the batchers in `shared` (for benchmarks and metrics). */
export async function attributeBatchStats(shared: SharedResources): Promise<{ batches: number; crops: number; largest: number }> {
  let batches = 0, crops = 0, largest = 0;
  for (const b of await shared.values<Batcher<Crop, Attributes>>(BATCHER)) { batches += b.stats.batches; crops += b.stats.inputs; largest = Math.max(largest, b.stats.largest); }
  return { batches, crops, largest };
}

registerElement({
  name: 'attributes',
  after: ['align', 'track'],
  description: 'gender, age, smile and the 40 CelebA attributes per track, with SA confidence and grade',
  options: attributesOptions,
  create: async (o, ctx) => {
    // one model and one batcher per setting for all streams of the app: crops of several streams share a batch
    const key = o.model ?? '';
    const model = await ctx.shared.get(`attributes:model:${key}`, () => loadAttributeModel(o.model), (m: AttributeModel) => m.dispose());
    const bkey = JSON.stringify([key, o.maxBatch, o.maxWaitMs]);
    const shared = await ctx.shared.get(`${BATCHER}${bkey}`, () => batcher((crops: Crop[]) => model.predict(crops), { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs }));
    const user = shared.join();
    // the check network: its own model and batcher, shared by the streams that use it like the main one
    const ckey = o.checkModel ?? DEFAULT_CHECK_MODEL_DIR;
    const check = o.checks.includes('network')
      ? await ctx.shared.get(`${CHECK_BATCHER}${JSON.stringify([ckey, o.maxBatch, o.maxWaitMs])}`, async () => {
        const m = await ctx.shared.get(`attributes:model:check:${ckey}`, () => loadAttributeModel(ckey), (x: AttributeModel) => x.dispose());
        return batcher((crops: Crop[]) => m.predict(crops), { maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs });
      })
      : undefined;
    const checkUser = check?.join();
    const faceApiChecks = o.checks.includes('face-api');
    const faceApiBlends = o.faceApiAgeShare > 0 || o.faceApiGenderShare > 0;
    const faceApi = faceApiChecks || faceApiBlends
      ? await ctx.shared.get('attributes:check:face-api', () => loadFaceApiAgeGender(), (n: FaceApiAgeGenderNet) => n.dispose())
      : undefined;
    const schedules = new Map<number, Schedule>();
    return {
      dispose: () => { user.leave(); checkUser?.leave(); },
      async process(item: AnalysedFrame): Promise<AnalysedFrame> {
        for (const t of item.tracks?.ended ?? []) schedules.delete(t.id);
        const now = item.frame.ptsMs;
        const due = (id: number) => {
          const s = schedules.get(id);
          if (!s) return true;
          const interval = s.unchangedFor >= o.stableAfter ? o.stableIntervalMs : o.intervalMs;
          return now - s.lastClassifiedMs >= interval;
        };
        const todo: FaceObservation[] = item.faces.filter((f) => f.crop && f.trackId != null && due(f.trackId)).slice(0, o.maxBatch);
        if (!todo.length) return item;
        const crops = todo.map((f) => f.crop!);
        // face-api looks at a track's box a few times, at most every faceApiIntervalMs
        const looks = faceApi ? todo.flatMap((f, i) => {
          const s = schedules.get(f.trackId!);
          if (s && (s.faceApiLooks >= o.faceApiLooks || now - s.lastFaceApiMs < o.faceApiIntervalMs)) return [];
          const cut = clipToImage(f.box, item.frame.width, item.frame.height);
          return cut && cut.width >= 8 && cut.height >= 8 ? [{ i, face: cropRgb(item.frame, cut) }] : [];
        }) : [];
        const [answers, checked, seen] = await Promise.all([shared.run(crops), check?.run(crops), looks.length ? faceApi!.predict(looks.map((l) => l.face)) : undefined]);
        const faceApiSaid = new Map(looks.map((l, j) => [l.i, seen![j]!]));
        ctx.count('faces.classified', todo.length);
        ctx.count('attributes.batches');
        todo.forEach((face, i) => {
          const a = answers[i]!;
          const byFaceApi = faceApiSaid.get(i);
          const faceApiGender = faceApiChecks ? byFaceApi?.gender : undefined;
          if (checked || faceApiGender) a.genderChecks = { ...(checked ? { network: checked[i]!.gender } : {}), ...(faceApiGender ? { 'face-api': faceApiGender } : {}) };
          if (byFaceApi && faceApiBlends) {
            a.faceApi = { age: byFaceApi.age, gender: byFaceApi.gender, ageShare: o.faceApiAgeShare, genderShare: o.faceApiGenderShare };
          }
          face.attributes = a;
          const id = face.trackId!;
          const s = schedules.get(id) ?? { lastClassifiedMs: now, answers: newTrackAnswers(), key: '', unchangedFor: 0, faceApiLooks: 0, lastFaceApiMs: -Infinity };
          schedules.set(id, s);
          s.lastClassifiedMs = now;
          if (byFaceApi) { s.faceApiLooks++; s.lastFaceApiMs = now; }
          // stable = the smoothed answers did not change; then the track is classified less often
          addAnswers(s.answers, a);
          const key = answersKey(s.answers);
          s.unchangedFor = key === s.key ? s.unchangedFor + 1 : 0;
          s.key = key;
        });
        return item;
      },
    };
  },
});
