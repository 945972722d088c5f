/**
 * `facestream eval demo`: the demo's own report. The demo clip (src/demo/clip.ts) is made
 * from four group photos that ship in `@vladmandic/face-api` (demo/sample1, 3, 6 and 4).
 * Looked at one by one, they show 14 people, 3 + 3 + 4 + 4, all of them young adult women
 * (about 20 to 35 years old): that is the clip's ground truth. Every answer about a person in
 * it should be female, and an adult's age group (youth, 13-30, or middle-aged, 31-55); a
 * baby or a child is always wrong here.
 *
 * The clip runs through a pipeline as a file (what the demo publishes, once), and each track's
 * final, smoothed answers (its `track.ended`) are counted by grade: what a venue's dashboard
 * shows is the answers graded B or better (SA confidence; C and D are not in the aggregates).
 */
import type { FacestreamEvent, TrackEnded } from '../../src/events/types.ts';
import { GRADES, type Grade } from '../../src/calculators/sa.ts';
import { AGE_BINS } from '../../src/models/attributes/labels.ts';
import { SharedResources } from '../../src/pipeline/shared.ts';
import { runPipeline } from './video.ts';

/** The ground truth of the demo clip's photos (see above). */
export const DEMO_TRUTH = {
  photos: { 'sample1.jpg': 3, 'sample3.jpg': 3, 'sample6.jpg': 4, 'sample4.jpg': 4 },
  people: 14,
  gender: 'female',
  /** Adults: either of these age groups is right. */
  ageGroups: ['youth', 'middle-aged'],
} as const;

/** What a venue's aggregates count: answers graded B or better. */
const COUNTED: readonly Grade[] = ['S', 'A', 'B'];

export interface DemoAnswers {
  /** Tracks that gave this answer at all. */
  answered: number;
  /** Of them, right by the ground truth. */
  right: number;
  /** Per grade: answers and how many were right. */
  byGrade: Record<Grade, { n: number; right: number }>;
  /** The answers graded B or better (what the aggregates count). */
  counted: { n: number; right: number; share: number | null };
}

export interface DemoReport {
  clip: string;
  pipeline: string;
  truth: typeof DEMO_TRUTH;
  /** Visits (tracks) and the unique visitors reid counted, against 14 people. */
  tracks: number;
  visitors: number;
  gender: DemoAnswers & { values: Record<string, number> };
  ageGroup: DemoAnswers & { values: Record<string, number>; countedBabyOrChild: number; countedBabyOrChildShare: number | null };
  /** Track ages (years): quartiles of the final age estimates. */
  age: { n: number; p25: number | null; median: number | null; p75: number | null };
  /** The bar for the demo: >= 90% female and < 5% baby or child among the answers graded B or better. */
  meets: { female90: boolean; babyOrChildUnder5: boolean };
  seconds: number;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

function answers(ended: TrackEnded[], pick: (t: TrackEnded) => { value: string; grade: Grade } | undefined, right: (v: string) => boolean) {
  const out: DemoAnswers & { values: Record<string, number> } = {
    answered: 0, right: 0, values: {},
    byGrade: Object.fromEntries(GRADES.map((g) => [g, { n: 0, right: 0 }])) as Record<Grade, { n: number; right: number }>,
    counted: { n: 0, right: 0, share: null },
  };
  for (const t of ended) {
    const a = pick(t);
    if (!a) continue;
    const ok = right(a.value);
    out.answered++;
    out.values[a.value] = (out.values[a.value] ?? 0) + 1;
    if (ok) out.right++;
    out.byGrade[a.grade].n++;
    if (ok) out.byGrade[a.grade].right++;
    if (COUNTED.includes(a.grade)) { out.counted.n++; if (ok) out.counted.right++; }
  }
  out.counted.share = out.counted.n ? round3(out.counted.right / out.counted.n) : null;
  return out;
}

/** Scores one run's events against the demo's ground truth. */
export function scoreDemo(events: FacestreamEvent[], clip: string, pipeline: string, seconds = 0): DemoReport {
  const ended = events.filter((e): e is TrackEnded => e.type === 'track.ended');
  const gender = answers(ended, (t) => t.attributes?.gender, (v) => v === DEMO_TRUTH.gender);
  const ageGroup = answers(ended, (t) => t.attributes?.ageGroup, (v) => (DEMO_TRUTH.ageGroups as readonly string[]).includes(v));
  const young = new Set<string>(AGE_BINS.filter((b) => b.to <= 12).map((b) => b.name));
  const countedBabyOrChild = ended.filter((t) => t.attributes?.ageGroup && COUNTED.includes(t.attributes.ageGroup.grade) && young.has(t.attributes.ageGroup.value)).length;
  const ages = ended.map((t) => t.attributes?.age).filter((a): a is number => typeof a === 'number').sort((a, b) => a - b);
  const q = (p: number) => (ages.length ? round3(ages[Math.min(ages.length - 1, Math.floor(p * ages.length))]!) : null);
  const babyShare = ageGroup.counted.n ? round3(countedBabyOrChild / ageGroup.counted.n) : null;
  return {
    clip, pipeline, truth: DEMO_TRUTH,
    tracks: ended.length,
    visitors: new Set(ended.map((t) => t.visitor?.id ?? `track-${t.trackId}`)).size,
    gender,
    ageGroup: { ...ageGroup, countedBabyOrChild, countedBabyOrChildShare: babyShare },
    age: { n: ages.length, p25: q(0.25), median: q(0.5), p75: q(0.75) },
    meets: { female90: (gender.counted.share ?? 0) >= 0.9, babyOrChildUnder5: babyShare !== null && babyShare < 0.05 },
    seconds,
  };
}

/** Runs the demo clip through `pipeline` once and scores it. */
export async function evalDemo(o: { clip: string; pipeline: string; onProgress?: (line: string) => void }): Promise<DemoReport> {
  const t0 = Date.now();
  const shared = new SharedResources();
  try {
    const events = await runPipeline(o.pipeline, o.clip, shared, o.onProgress);
    return scoreDemo(events, o.clip, o.pipeline, Math.round((Date.now() - t0) / 1000));
  } finally {
    await shared.dispose();
  }
}

/** The report for a terminal. */
export function demoLines(r: DemoReport): string[] {
  const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 1000) / 10}%`);
  const grades = (a: DemoAnswers) => GRADES.map((g) => `${g} ${a.byGrade[g].right}/${a.byGrade[g].n}`).join(' · ');
  return [
    `demo clip, ${r.pipeline} pipeline: ${r.tracks} visits, ${r.visitors} unique visitors (the photos show ${r.truth.people} people, all young adult women)`,
    `gender graded B or better: ${pct(r.gender.counted.share)} female (${r.gender.counted.right} of ${r.gender.counted.n}); by grade right/answered: ${grades(r.gender)}`,
    `age group graded B or better: ${pct(r.ageGroup.counted.share)} adult, ${pct(r.ageGroup.countedBabyOrChildShare)} baby or child (${r.ageGroup.countedBabyOrChild} of ${r.ageGroup.counted.n}); by grade: ${grades(r.ageGroup)}`,
    `age estimates: median ${r.age.median ?? '-'} (quartiles ${r.age.p25 ?? '-'}-${r.age.p75 ?? '-'}) over ${r.age.n} tracks`,
    `the demo's bar (>= 90% female, < 5% baby or child among answers graded B or better): ${r.meets.female90 && r.meets.babyOrChildUnder5 ? 'met' : 'NOT met'}`,
  ];
}
