/**
 * Calibrates the grading policy (src/calculators/smooth.ts GradePolicy, the `track`
 * element's `grading` defaults) on `facestream eval video --json` reports of validation
 * faces: for each task the rule under which grade S is right at least `gender` (0.97) and
 * `ageGroup` (0.90) of the time at every face size where S is given, with the most S
 * answers (the age group's rule, where it differs, under `ageGroup`); and
 * the face width below which answers are withheld (graded C at best): the smallest sizes,
 * up to the first whose answers graded B or better are right at least `WITHHOLD_BELOW`.
 *
 *   npx tsx lab/eval/calibrate.ts REPORT.json [REPORT.json...]   (one JSON object out)
 * Check a policy on another report (other faces, another seed):
 *   npx tsx lab/eval/calibrate.ts --check '{"sMinFrames":...}' REPORT.json
 */
import fs from 'node:fs';
import { genderGrade, policyGrade, WITHHOLD_RULES, type GradePolicy, type WithholdRules } from '../../src/calculators/smooth.ts';
import { GRADES, type Grade } from '../../src/calculators/sa.ts';
import type { SaidClass, TrackRow, VideoEvalReport } from './video.ts';
import { GRADE_POLICY, RAW_GRADING } from '../../src/operators/track.ts';

export const TARGETS = { gender: 0.97, ageGroup: 0.9 };
/** Answers a size needs before its accuracy decides whether it is withheld. */
export const MIN_ANSWERS = 8;
/** Calibration may ask this much more than the targets (0: the shipped rule is fitted on 4 x 32 faces a size). */
export const MARGIN = 0;
/** Sizes whose answers at B or better are right less often than this are withheld. */
export const WITHHOLD_BELOW = { gender: 0.85, ageGroup: 0.7 };

type Row = TrackRow & { size: number; pipeline: string };
/** Every rule off (RAW_GRADING), with no age-group override. */
const noRules = (): GradePolicy => { const { ageGroup: _, ...raw } = RAW_GRADING; return raw; };
const TASKS = ['gender', 'ageGroup'] as const;

/** Wilson score interval's lower bound (95%) of k successes in n. */
export function wilsonLower(k: number, n: number, z = 1.96): number {
  if (!n) return 0;
  const p = k / n;
  const d = 1 + (z * z) / n;
  return (p + (z * z) / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
}

export interface SizeStats { size: number; pipeline: string; task: string; n: number; byGrade: Record<Grade, { n: number; right: number }> }

/** Per size, pipeline and task: the answers by grade under `p`. */
export function statsUnder(rows: Row[], p: GradePolicy): SizeStats[] {
  const out = new Map<string, SizeStats>();
  for (const r of rows) {
    for (const task of TASKS) {
      const said = r.said?.[task] as SaidClass | undefined;
      if (!said) continue;
      const key = `${r.pipeline}|${r.size}|${task}`;
      const s = out.get(key) ?? { size: r.size, pipeline: r.pipeline, task, n: 0, byGrade: Object.fromEntries(GRADES.map((g) => [g, { n: 0, right: 0 }])) as SizeStats['byGrade'] };
      out.set(key, s);
      let g = policyGrade(said, r.widthPx ?? undefined, task === 'ageGroup' ? { ...p, ...p.ageGroup } : p);
      if (task === 'gender') g = genderGrade(g, { age: r.said?.age, check: said.check, probability: said.probability }, p); // as the pipeline does (smoothedAnswers)
      s.n++;
      s.byGrade[g].n++;
      if (said.value === r[task]) s.byGrade[g].right++;
    }
  }
  return [...out.values()].sort((a, b) => a.pipeline.localeCompare(b.pipeline) || b.size - a.size || a.task.localeCompare(b.task));
}

/** Whether S holds its targets (plus `margin`) at every size where it is given. */
export function meetsTargets(stats: SizeStats[], margin = 0): boolean {
  return stats.every((s) => {
    const S = s.byGrade.S;
    return S.n === 0 || S.right / S.n >= Math.min(1, TARGETS[s.task as keyof typeof TARGETS] + margin);
  });
}

/**
 * `fixed`: the rules calibration keeps as they are and applies while it fits the others
 * (WITHHOLD_RULES, as shipped), so that S is fitted on the answers the pipeline would count.
 */
export function calibrate(rows: Row[], fixed: WithholdRules = {}): { policy: GradePolicy; sShare: number; stats: SizeStats[] } {
  // withheld: the small sizes, from the smallest up to the first whose answers at B or better
  // reach the floor for both tasks (a larger size's poor answers are the grades' business)
  const base: GradePolicy = { ...noRules(), ...fixed };
  let withholdBelowPx = 0;
  const sizes = [...new Set(rows.map((r) => r.size))].sort((a, b) => a - b);
  const stats0 = statsUnder(rows, base);
  for (const size of sizes) {
    const poor = stats0.filter((s) => s.size === size).some((s) => {
      const ok = (['S', 'A', 'B'] as const).reduce((a, g) => ({ n: a.n + s.byGrade[g].n, right: a.right + s.byGrade[g].right }), { n: 0, right: 0 });
      // a size with a handful of answers says nothing either way
      return ok.n >= MIN_ANSWERS && ok.right / ok.n < WITHHOLD_BELOW[s.task as keyof typeof WITHHOLD_BELOW];
    });
    if (!poor) break;
    // above the widest box of that clip's tracks
    withholdBelowPx = Math.ceil(Math.max(...rows.filter((r) => r.size === size && r.widthPx != null).map((r) => r.widthPx!), size)) + 1;
  }
  // the widths to try: each clip's tracks' narrowest (the detector's box, wider than the face)
  const widths = [0, ...sizes.map((size) => Math.min(...rows.filter((r) => r.size === size && r.widthPx != null).map((r) => Math.floor(r.widthPx!))))].filter(Number.isFinite);
  // each task its own rule (the age group's S is harder to earn than gender's), the most S
  // answers of that task under its target
  const rule: Partial<Record<(typeof TASKS)[number], { policy: Omit<GradePolicy, 'ageGroup'>; sShare: number }>> = {};
  for (const task of TASKS) {
    for (const sMinFrames of [1, 2, 3, 4, 6])
      for (const sMinProbability of [0, 0.6, 0.7, 0.8, 0.9, 0.95])
        for (const sMinWidthPx of widths) {
          const policy = { sMinFrames, sMinProbability, sMinWidthPx, withholdBelowPx, ...fixed };
          const stats = statsUnder(rows, { ...policy, ageGroup: policy }).filter((s) => s.task === task);
          if (!meetsTargets(stats, MARGIN)) continue;
          const total = stats.reduce((a, s) => a + s.n, 0);
          const sShare = stats.reduce((a, s) => a + s.byGrade.S.n, 0) / (total || 1);
          // the most S answers; on a tie the looser rule (found first)
          if (!rule[task] || sShare > rule[task]!.sShare + 1e-9) rule[task] = { policy, sShare };
        }
    if (!rule[task]) throw new Error(`no rule meets the ${task} target`);
  }
  const g = rule.gender!.policy, a = rule.ageGroup!.policy;
  const ageGroup = Object.fromEntries(Object.entries(a).filter(([k, v]) => !(k in fixed) && g[k as keyof typeof g] !== v));
  const policy: GradePolicy = { ...g, ...(Object.keys(ageGroup).length ? { ageGroup } : {}) };
  const stats = statsUnder(rows, policy);
  const total = stats.reduce((x, s) => x + s.n, 0);
  return { policy, sShare: stats.reduce((x, s) => x + s.byGrade.S.n, 0) / (total || 1), stats };
}

export function readRows(files: string[]): Row[] {
  return files.flatMap((f) => {
    const r = JSON.parse(fs.readFileSync(f, 'utf8')) as VideoEvalReport;
    return r.results.flatMap((s) => s.rows.map((row) => ({ ...row, size: s.size, pipeline: s.pipeline })));
  });
}

/** The stats as table rows: S's share and accuracy (with its Wilson lower bound) per size. */
export function table(stats: SizeStats[]): string[] {
  return stats.map((s) => {
    const S = s.byGrade.S;
    const withheld = s.byGrade.C.n + s.byGrade.D.n;
    return `${s.pipeline} ${String(s.size).padStart(4)} px ${s.task.padEnd(8)} S ${S.n}/${s.n} right ${S.n ? (S.right / S.n).toFixed(3) : '-'} (95% lower ${wilsonLower(S.right, S.n).toFixed(2)}), C/D ${withheld}`;
  });
}

if (process.argv[1]?.endsWith('calibrate.ts')) {
  const args = process.argv.slice(2);
  if (args[0] === '--check') {
    const policy = JSON.parse(args[1]!) as GradePolicy;
    const stats = statsUnder(readRows(args.slice(2)), policy);
    console.error(table(stats).join('\n'));
    console.log(JSON.stringify({ policy, meetsTargets: meetsTargets(stats), stats }));
  } else {
    const rows = readRows(args);
    const fixed: WithholdRules = Object.fromEntries(WITHHOLD_RULES.map((k) => [k, GRADE_POLICY[k]]));
    const before = statsUnder(rows, { ...noRules(), ...fixed });
    const r = calibrate(rows, fixed);
    console.error(`kept as shipped: ${JSON.stringify(fixed)}`);
    console.error(`before:\n${table(before).join('\n')}\nafter ${JSON.stringify(r.policy)}:\n${table(r.stats).join('\n')}`);
    console.log(JSON.stringify({ policy: r.policy, sShare: Math.round(r.sShare * 1000) / 1000, before, after: r.stats }));
  }
}
