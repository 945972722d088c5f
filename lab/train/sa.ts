/**
 * Phase 2 of the attribute model: SA-softmax heads trained by dynamic tags
 * (docs/method.md §2, algorithm 1) on cached features. The trunk and the plain heads stay as
 * phase 1 left them, so plain and SA answers can be compared on the same faces.
 *
 * Per task (gender, age5, smile): the `${task}_fc_relu` features of every labelled
 * training sample are computed once; the (N+1)-way head starts from the plain head's
 * weights (the N+1-th output from a low bias); then rounds of `epochsPerRound` epochs
 * count, per sample, how often it was seen and predicted as its current tag, and
 * `nextTag` (src/calculators/sa.ts) relabels.
 */
import { grade, GRADES, saSoftmax, type Grade } from '../../src/calculators/sa.ts';
import { SA_TASKS, type SaTask } from '../../src/models/attributes/network.ts';
import { tf } from '../../src/runtime/index.ts';
import { nextTag } from '../../src/calculators/sa.ts';
import { ageClass } from './datasets.ts';
import { makeBatch, rng, type LabelledSet } from './attributes.ts';
import { createLogger } from '../../src/log.ts';

const log = createLogger('train-sa');

export function trueLabel(task: SaTask, s: LabelledSet, k: number): number {
  if (task === 'gender') return s.gender[k]!;
  if (task === 'smile') return s.smile[k]!;
  return Number.isNaN(s.age[k]!) ? -1 : ageClass(s.age[k]!);
}

/** The fc_feature activations (after BN and ReLU) of the task's subnet, inference mode. */
export function features(model: tf.LayersModel, task: SaTask, s: LabelledSet, idx: number[], batch = 128): Float32Array {
  // age5 shares the age subnet with the regression head
  const subnet = task === 'age5' ? 'age' : task;
  const fm = tf.model({ inputs: model.inputs, outputs: model.getLayer(`${subnet}_fc_relu`).output as tf.SymbolicTensor });
  const width = (fm.outputs[0]!.shape[1] as number);
  const out = new Float32Array(idx.length * width);
  for (let i = 0; i < idx.length; i += batch) {
    const part = idx.slice(i, i + batch);
    const f = tf.tidy(() => {
      const b = makeBatch(s, part);
      return (fm.predict(b.x) as tf.Tensor).dataSync() as Float32Array;
    });
    out.set(f, i * width);
  }
  return out;
}

/**
 * `lowResPx`: the rounds also see a copy of each calibration face at 16 and 8 px
 * (1/4 and 1/8 of a 64-px crop; src/train/degrade.ts), as the pipeline's smallest faces
 * (`quality.minSize` 12 px) look. Fitted on clean faces only, the gender head graded 899
 * of 1,579 8-px faces S and was right on 0.61 of them; with the copies, grade S on clean
 * and low-resolution faces together is right 0.94 of the time (0.85 before) and accuracy
 * falls from S to D. Not for the age class: 80% right on clean faces and 40% at 8 px,
 * its rounds tag most faces unrecognizable and S falls to a third of the clean faces.
 *
 * Epochs per round and learning rate of the dynamic-tag rounds, per task, chosen on the
 * validation split's non-calibration half with the 15-epoch trunk (scratch probes: the
 * age classes, with 20% of calibration faces wrong, take in too many "unrecognizable"
 * tags at the gender settings, and S falls to 55% of the faces; smile needs the longer
 * rounds to pull its errors out of S). Four rounds: with this rule a face tagged
 * unrecognizable that the head cannot learn as such is restored the next round and
 * tagged again the one after, so the tags alternate; an even count ends on a head
 * trained with the tags of the rounds that found the errors.
 */
export const SA_SETTINGS: Record<SaTask, { epochsPerRound: number; lr: number; lowResPx: number[] }> = {
  gender: { epochsPerRound: 30, lr: 2e-3, lowResPx: [16, 8] },
  age5: { epochsPerRound: 20, lr: 1e-3, lowResPx: [] },
  smile: { epochsPerRound: 30, lr: 2e-3, lowResPx: [16, 8] },
};

/** The whole divisors of a `size`-px crop that give faces `px` wide (80 px: 16 -> 5, 8 -> 10). */
export function lowResFactors(size: number, px: number[]): number[] {
  return px.map((p) => {
    if (size % p) throw new Error(`a ${size}-px crop has no whole divisor giving ${p} px`);
    return size / p;
  });
}

export interface SaTrainReport { task: SaTask; rounds: Array<{ round: number; unrecognizable: number; loss: number }> }

export async function trainSaHead(
  model: tf.LayersModel, task: SaTask, s: LabelledSet, train: number[],
  opts: { rounds?: number; epochsPerRound?: number; lr?: number; seed?: number; dropout?: number } = {},
): Promise<SaTrainReport> {
  const n = SA_TASKS[task];
  const idx = train.filter((k) => trueLabel(task, s, k) >= 0);
  const feats = features(model, task, s, idx);
  const width = feats.length / idx.length;
  const truth = Int32Array.from(idx, (k) => trueLabel(task, s, k));
  const tags = Int32Array.from(truth);
  const plain = model.getLayer(task).getWeights();
  const [pw, pb] = [plain[0]!.arraySync() as number[][], plain[1]!.arraySync() as number[]];
  const w = tf.variable(tf.tensor2d(pw.map((row) => [...row, 0]), [width, n + 1]));
  const b = tf.variable(tf.tensor1d([...pb, -2]));
  const optimizer = tf.train.adam(opts.lr ?? SA_SETTINGS[task].lr);
  const r = rng(opts.seed ?? 7);
  const batch = 256;
  const report: SaTrainReport = { task, rounds: [] };
  const rounds = opts.rounds ?? 4;
  const epochs = opts.epochsPerRound ?? SA_SETTINGS[task].epochsPerRound;
  for (let round = 0; round < rounds; round++) {
    const seen = new Int32Array(idx.length);
    const correct = new Int32Array(idx.length);
    let lossSum = 0, steps = 0;
    for (let e = 0; e < epochs; e++) {
      const order = [...idx.keys()];
      for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
      for (let i = 0; i < order.length; i += batch) {
        const part = order.slice(i, i + batch);
        const x = new Float32Array(part.length * width);
        part.forEach((p, j) => x.set(feats.subarray(p * width, (p + 1) * width), j * width));
        const y = Int32Array.from(part, (p) => tags[p]!);
        const pred = tf.tidy(() => {
          const xt = tf.tensor2d(x, [part.length, width]);
          const yt = tf.oneHot(tf.tensor1d(y, 'int32'), n + 1);
          let argmax: Int32Array | undefined;
          const loss = optimizer.minimize(() => {
            // The features with the subnet's own dropout, as the plain head saw them in
            // training: on clean features of faces the trunk was trained on, almost every
            // face is learnable and almost none would be tagged unrecognizable.
            const logits = tf.add(tf.matMul(opts.dropout ? tf.dropout(xt, opts.dropout, undefined, Math.floor(r() * 1e9)) : xt, w), b);
            argmax = tf.argMax(logits, 1).dataSync() as Int32Array;
            return tf.losses.softmaxCrossEntropy(yt, logits) as tf.Scalar;
          }, true)!;
          lossSum += loss.dataSync()[0]!;
          steps++;
          return argmax!;
        });
        part.forEach((p, j) => { seen[p]!++; if (pred[j] === tags[p]) correct[p]!++; });
      }
    }
    let unrec = 0;
    for (let p = 0; p < idx.length; p++) {
      tags[p] = nextTag(n, truth[p]!, tags[p]!, seen[p]!, correct[p]!);
      if (tags[p] === n) unrec++;
    }
    report.rounds.push({ round: round + 1, unrecognizable: unrec / idx.length, loss: lossSum / steps });
    log.info(`${task} round ${round + 1}: ${(100 * unrec / idx.length).toFixed(1)}% tagged unrecognizable, loss ${(lossSum / steps).toFixed(4)}`);
  }
  model.getLayer(`${task}_sa`).setWeights([w, b]);
  tf.dispose([w, b]);
  optimizer.dispose();
  return report;
}

export interface SaEval {
  n: number;
  plainAccuracy: number;
  saAccuracy: number;
  grades: Record<Grade, { n: number; accuracy: number | null }>;
}

/** Plain vs SA answers on the same faces, and SA accuracy by grade. */
export function evaluateSa(plainLogits: Float32Array[], saLogits: Float32Array[], truth: number[]): SaEval {
  const grades = Object.fromEntries(GRADES.map((g) => [g, { n: 0, correct: 0 }])) as Record<Grade, { n: number; correct: number }>;
  let plainOk = 0, saOk = 0, n = 0;
  truth.forEach((t, i) => {
    if (t < 0) return;
    n++;
    const p = plainLogits[i]!;
    let m = 0;
    for (let j = 1; j < p.length; j++) if (p[j]! > p[m]!) m = j;
    if (m === t) plainOk++;
    const r = saSoftmax(saLogits[i]!);
    const g = grade(r.confidence);
    grades[g].n++;
    if (r.value === t) { saOk++; grades[g].correct++; }
  });
  return {
    n,
    plainAccuracy: plainOk / n,
    saAccuracy: saOk / n,
    grades: Object.fromEntries(GRADES.map((g) => [g, { n: grades[g].n, accuracy: grades[g].n ? grades[g].correct / grades[g].n : null }])) as SaEval['grades'],
  };
}
