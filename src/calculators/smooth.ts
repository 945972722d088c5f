/**
 * Per-track smoothing of attribute answers: each frame's class probabilities are
 * averaged with its SA confidence as the weight (docs/method.md §2: the confidence is what
 * video smoothing should weigh by), so one doubtful frame does not flip an answer.
 * Pure functions over plain accumulators.
 */
import { grade, type Grade } from './sa.ts';

export interface ClassObs { probs: Record<string, number>; confidence: number }

export interface ClassAcc { weight: number; sums: Record<string, number>; confidenceSum: number; n: number }

export function newClassAcc(): ClassAcc {
  return { weight: 0, sums: {}, confidenceSum: 0, n: 0 };
}

/** `quality` (0..1) scales the weight of this frame as well. */
export function addClass(acc: ClassAcc, obs: ClassObs, quality = 1): void {
  const w = Math.max(1e-6, obs.confidence * quality);
  acc.weight += w;
  acc.confidenceSum += obs.confidence;
  acc.n++;
  for (const [k, p] of Object.entries(obs.probs)) acc.sums[k] = (acc.sums[k] ?? 0) + w * p;
}

export interface SmoothedClass { value: string; probability: number; confidence: number; grade: Grade; frames: number }

export function smoothedClass(acc: ClassAcc): SmoothedClass | undefined {
  if (!acc.n) return undefined;
  let value = '', best = -1;
  for (const [k, s] of Object.entries(acc.sums)) if (s > best) { best = s; value = k; }
  // the track's confidence: the mean frame confidence, grown by agreement over frames
  const confidence = acc.confidenceSum / acc.n;
  return { value, probability: best / acc.weight, confidence, grade: grade(confidence), frames: acc.n };
}

export interface ScalarAcc { weight: number; sum: number }
export function addScalar(acc: ScalarAcc, value: number, weight: number): void {
  acc.weight += weight;
  acc.sum += weight * value;
}
export const scalarMean = (acc: ScalarAcc) => (acc.weight ? acc.sum / acc.weight : undefined);

/**
 * A track's attribute answers over its frames: the class answers smoothed by their SA
 * confidence, age weighted by the age head's confidence, the CelebA probabilities averaged.
 */
export interface TrackAnswersAcc {
  gender: ClassAcc;
  /** Each gender check's answers on the same frames (attributes.checks: 'network', 'face-api'), when it runs. */
  genderChecks: Record<string, ClassAcc>;
  ageGroup: ClassAcc;
  smiling: ClassAcc;
  age: ScalarAcc;
  /**
   * face-api's answers on the looks it took at the track, each look weighing the same, and
   * their shares in the track's age and gender (attributes.faceApiAgeShare,
   * faceApiGenderShare; trackAge, trackGender).
   */
  faceApi?: { age: ScalarAcc; gender: ClassAcc; ageShare: number; genderShare: number };
  celeba: Record<string, ScalarAcc>;
}

/** One frame's answers of the attribute model, as the smoothing reads them. */
export interface FrameAnswers {
  gender: ClassObs;
  genderChecks?: Record<string, ClassObs>;
  ageGroup: ClassObs;
  smiling: ClassObs;
  age: number;
  /** face-api's answers on this face when it looked, and the shares they take in the track's age and gender. */
  faceApi?: FaceApiLook;
  celeba: Record<string, number>;
}

/** face-api's age and gender on one look, and the shares of its answers in the track's (attributes.faceApiAgeShare, faceApiGenderShare). */
export interface FaceApiLook { age: number; gender: ClassObs; ageShare: number; genderShare: number }

export function newTrackAnswers(): TrackAnswersAcc {
  return { gender: newClassAcc(), genderChecks: {}, ageGroup: newClassAcc(), smiling: newClassAcc(), age: { weight: 0, sum: 0 }, celeba: {} };
}

export function addAnswers(acc: TrackAnswersAcc, a: FrameAnswers): void {
  addClass(acc.gender, a.gender);
  for (const [name, obs] of Object.entries(a.genderChecks ?? {})) addClass((acc.genderChecks[name] ??= newClassAcc()), obs);
  addClass(acc.ageGroup, a.ageGroup);
  addClass(acc.smiling, a.smiling);
  addScalar(acc.age, a.age, Math.max(1e-6, a.ageGroup.confidence));
  if (a.faceApi && Number.isFinite(a.faceApi.age)) {
    const p = (acc.faceApi ??= { age: { weight: 0, sum: 0 }, gender: newClassAcc(), ageShare: 0, genderShare: 0 });
    p.ageShare = a.faceApi.ageShare;
    p.genderShare = a.faceApi.genderShare;
    addScalar(p.age, a.faceApi.age, 1);
    addClass(p.gender, { probs: a.faceApi.gender.probs, confidence: 1 });
  }
  for (const [k, p] of Object.entries(a.celeba)) addScalar((acc.celeba[k] ??= { weight: 0, sum: 0 }), p, 1);
}

/**
 * face-api's share in a track's age (attributes.faceApiAgeShare's default). Chosen between
 * the validation split's calibration half (lowest age error at 0.8-0.9: 3.80 years, 3.86 at
 * 0.7) and face-api's answers on the video draws' tracks (lowest at 0.7); on the stills'
 * other half, which the choice did not look at, 0.7 is the lowest, and on four video draws
 * made after it the age error fell from 5.0 to 3.9 years (docs/models.md).
 */
export const FACE_API_AGE_SHARE = 0.7;
/**
 * face-api's share in a track's gender (attributes.faceApiGenderShare's default). On faces
 * face-api never trained on, the blend beats the network alone up to 0.5-0.6 and falls below
 * it above (CelebA validation faces through face-api's own detector: 0.970 at 0.5, 0.958 at
 * 0.7, the network alone 0.964, face-api alone 0.915); on the 11,882 CelebA gender crops it is
 * 0.964-0.965 from 0.4 to 0.8 (0.953 and 0.962 alone). UTKFace, face-api's training set, wants
 * more (0.8 on the calibration half). 0.5: never below the network on any set (docs/models.md).
 */
export const FACE_API_GENDER_SHARE = 0.5;

/**
 * The track's age in years: the attribute model's, confidence-weighted over the frames; once
 * face-api has looked (attributes.faceApiAgeShare), blended with the mean of face-api's ages
 * with that share. On the validation stills and on video, the two models' ages together
 * are nearer the truth than either alone (docs/models.md).
 */
export function trackAge(acc: TrackAnswersAcc): number | undefined {
  const ours = scalarMean(acc.age);
  const f = acc.faceApi;
  const peer = f && scalarMean(f.age);
  if (ours == null || peer == null || !f!.ageShare) return ours;
  return (1 - f!.ageShare) * ours + f!.ageShare * peer;
}

const logit = (p: number) => { const q = Math.min(1 - 1e-3, Math.max(1e-3, p)); return Math.log(q / (1 - q)); };
/** The probability of a class blended from the network's and face-api's by face-api's `share` of their log-odds (each clipped to 0.001-0.999). */
export function blendProbability(network: number, faceApi: number, share: number): number {
  return 1 / (1 + Math.exp(-((1 - share) * logit(network) + share * logit(faceApi))));
}

/**
 * The track's gender: the network's (its confidence-weighted vote over the frames); once
 * face-api has looked (attributes.faceApiGenderShare), the log-odds of the two blended with
 * that share: face-api's mean probability over its looks, the network's vote share. The
 * value and probability are the blend's; the SA confidence, the frames and so the grade stay
 * the network's. On the CelebA validation faces, which face-api never trained on, the blend
 * at the default share is right more often than either alone (docs/models.md).
 * `ours`: the network's answer, when the caller has it already.
 */
export function trackGender(acc: TrackAnswersAcc, ours = smoothedClass(acc.gender)): SmoothedClass | undefined {
  const f = acc.faceApi;
  if (!ours || !f || !f.gender.n || !f.genderShare) return ours;
  const labels = Object.keys(acc.gender.sums).sort(); // female, male
  if (labels.length !== 2) return ours;
  const [a, b] = labels as [string, string];
  const pa = blendProbability((acc.gender.sums[a] ?? 0) / acc.gender.weight, (f.gender.sums[a] ?? 0) / f.gender.weight, f.genderShare);
  return { ...ours, value: pa >= 0.5 ? a : b, probability: Math.max(pa, 1 - pa) };
}

/** The smoothed class answers as one string: unchanged = the track's answers are stable. */
export function answersKey(acc: TrackAnswersAcc): string {
  return [acc.gender, acc.ageGroup, acc.smiling].map((c) => smoothedClass(c)?.value).join('|');
}

/** An age band by years: `from` and `to` inclusive, the bands in order and contiguous. */
export interface AgeBand { name: string; from: number; to: number }

/** The band of an age in years (fractions fall in the band whose range starts at or below them). */
export function bandOf(age: number, bands: readonly AgeBand[]): AgeBand {
  let found = bands[0]!;
  for (const b of bands) if (age >= b.from) found = b;
  return found;
}

const GRADE_ORDER: Grade[] = ['S', 'A', 'B', 'C', 'D'];
/** Grade `g`, or `most` when `g` is better: answers the heads disagree on are never graded above it. */
const capGrade = (g: Grade, most: Grade): Grade => (GRADE_ORDER.indexOf(g) < GRADE_ORDER.indexOf(most) ? most : g);

/**
 * One age: the age group is the band of the smoothed age in years, so that the group and the
 * number cannot contradict each other (no "baby (~43)"). Its probability is the mass the
 * age-group head gave that band over the track; when that head's own choice is another
 * band, the two heads disagree and the answer is graded C at best (not counted in the
 * aggregates at the default minGrade B).
 */
export function coherentAgeGroup(acc: TrackAnswersAcc, bands: readonly AgeBand[]): SmoothedClass | undefined {
  const byClass = smoothedClass(acc.ageGroup);
  const age = trackAge(acc);
  if (!byClass || age == null) return byClass;
  // the band of the age as events say it (to a tenth of a year)
  const band = bandOf(Math.round(age * 10) / 10, bands).name;
  const probability = (acc.ageGroup.sums[band] ?? 0) / acc.ageGroup.weight;
  const agree = byClass.value === band;
  return { ...byClass, value: band, probability, grade: agree ? byClass.grade : capGrade(byClass.grade, 'C') };
}

/**
 * What a track's answer needs for each grade beyond its SA confidence, calibrated on video
 * (`facestream eval video`, validation faces): S only with enough frames, a clear
 * majority over them and a face wide enough; faces narrower than `withholdBelowPx` are
 * graded C at best (unsure: not counted in the aggregates at the default minGrade B).
 */
export interface GradePolicy {
  sMinFrames: number;
  sMinProbability: number;
  sMinWidthPx: number;
  withholdBelowPx: number;
  /**
   * A track whose age estimate is under this many years has its gender graded C at best
   * (withheld): on the validation faces, babies' and children's gender is right far less
   * often than adults' (the model card's figures). 0: no such rule.
   */
  genderMinAge?: number;
  /**
   * Answers the SA confidence grades B are graded C (withheld): on the validation stills
   * they were right little more often than chance (gender 0.63, smile 0.59, age group 0.60).
   */
  withholdB?: boolean;
  /**
   * A track whose smoothed gender one of the gender checks (attributes.checks) answers
   * otherwise has its gender graded C at best (withheld): networks trained apart that
   * disagree are unsure. false: no such rule.
   */
  genderCheck?: boolean;
  /**
   * A track whose gender has less than this share of its (confidence-weighted) votes is graded
   * C at best (withheld): over seven video draws the counted answers under 0.8 were right 8
   * times of 13, near chance. 0: no such rule.
   */
  genderMinProbability?: number;
  /** The age group's own rule where it differs (its S is harder to earn than gender's). */
  ageGroup?: Partial<Omit<GradePolicy, 'ageGroup'>>;
}

/**
 * The rules that withhold an answer (C at best) whatever its SA grade and size; calibration
 * (lab/eval/calibrate.ts) keeps them as shipped and fits the S and size rules around them.
 */
export const WITHHOLD_RULES = ['genderMinAge', 'withholdB', 'genderCheck', 'genderMinProbability'] as const;
export type WithholdRules = Pick<GradePolicy, (typeof WITHHOLD_RULES)[number]>;

/**
 * A gender grade under the policy's gender rules: a child's (age estimate under
 * `genderMinAge`) is withheld, C at best; so is one the check network disagrees with
 * (`genderCheck`, when the track has the check's answer), and one with too split a vote
 * (`genderMinProbability`).
 */
export function genderGrade(g: Grade, track: { age?: number | null; check?: GenderCheck; probability?: number }, p: Pick<GradePolicy, 'genderMinAge' | 'genderCheck' | 'genderMinProbability'>): Grade {
  if (p.genderMinAge && track.age != null && track.age < p.genderMinAge) return capGrade(g, 'C');
  if (p.genderCheck && track.check === 'disagrees') return capGrade(g, 'C');
  if (p.genderMinProbability && track.probability != null && track.probability < p.genderMinProbability) return capGrade(g, 'C');
  return g;
}

/** Whether a check's smoothed gender is the track's. */
export type GenderCheck = 'agrees' | 'disagrees';
/**
 * Each check that answered on the track against the track's smoothed gender `ours`, and all
 * of them together: 'disagrees' when any does (undefined: no check ran).
 */
export function genderChecksOf(acc: TrackAnswersAcc, ours: string): { check?: GenderCheck; checks?: Record<string, GenderCheck> } {
  const checks: Record<string, GenderCheck> = {};
  for (const [name, c] of Object.entries(acc.genderChecks)) {
    const said = smoothedClass(c);
    if (said) checks[name] = said.value === ours ? 'agrees' : 'disagrees';
  }
  const all = Object.values(checks);
  return all.length ? { check: all.includes('disagrees') ? 'disagrees' : 'agrees', checks } : {};
}

/** The grade of a smoothed answer under a policy, given the track's best face width. */
export function policyGrade(c: SmoothedClass, widthPx: number | undefined, p: GradePolicy): Grade {
  let g = c.grade;
  if (widthPx != null && widthPx < p.withholdBelowPx) return capGrade(g, 'C');
  if (g === 'S' && (c.frames < p.sMinFrames || c.probability < p.sMinProbability || (widthPx ?? 0) < p.sMinWidthPx)) g = 'A';
  if (g === 'B' && p.withholdB) g = 'C';
  return g;
}

/**
 * The smoothed answers as events carry them (rounded); with `ageBands`, one age
 * (coherentAgeGroup); with `policy`, graded by it (`widthPx`: the track's best face width).
 */
export function smoothedAnswers(acc: TrackAnswersAcc, opts: { ageBands?: readonly AgeBand[]; policy?: GradePolicy; widthPx?: number } = {}) {
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const ageRule = opts.policy && { ...opts.policy, ...opts.policy.ageGroup };
  const json = (s: SmoothedClass | undefined, p = opts.policy) => s && {
    value: s.value, probability: r3(s.probability), confidence: r3(s.confidence), grade: p ? policyGrade(s, opts.widthPx, p) : s.grade, frames: s.frames,
  };
  const cls = (c: ClassAcc) => json(smoothedClass(c));
  const age = trackAge(acc);
  // each check against the network's own answer (the blend may carry face-api's)
  const network = smoothedClass(acc.gender);
  const plain = json(trackGender(acc, network));
  const { check, checks } = network ? genderChecksOf(acc, network.value) : {};
  const gender: (NonNullable<typeof plain> & { check?: GenderCheck; checks?: Record<string, GenderCheck> }) | undefined = plain && (check ? { ...plain, check, checks } : plain);
  if (gender && opts.policy) gender.grade = genderGrade(gender.grade, { age, check, probability: gender.probability }, opts.policy);
  return {
    gender,
    ageGroup: json(opts.ageBands ? coherentAgeGroup(acc, opts.ageBands) : smoothedClass(acc.ageGroup), ageRule),
    age: age == null ? undefined : Math.round(age * 10) / 10,
    smiling: cls(acc.smiling),
    celeba: Object.fromEntries(Object.entries(acc.celeba).map(([k, v]) => [k, r3(scalarMean(v) ?? 0)])),
  };
}
