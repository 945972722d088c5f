/**
 * Model cards generated from the models' manifests (`npm run docs` writes
 * models/NAME/MODEL_CARD.md): what the model is for and not for, its data and terms, its
 * figures on the validation split by age band and by grade, the peer it was measured
 * against, the failure modes the figures show, and the command that made it. Nothing in a
 * card is written by hand, so it cannot disagree with the manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/data.ts';
import { FACE_API_AGE_SHARE, FACE_API_GENDER_SHARE } from '../src/calculators/smooth.ts';

type Json = Record<string, unknown>;
const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '–');
const num = (v: unknown, d = 2) => (typeof v === 'number' ? v.toFixed(d) : '–');
const ci = (v: unknown) => (Array.isArray(v) ? ` [${pct(v[0])}, ${pct(v[1])}]` : '');
const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((a, k) => (a && typeof a === 'object' ? (a as Json)[k] : undefined), o);

interface Grades { n: number; plainAccuracy: number; saAccuracy: number; grades: Record<string, { n: number; accuracy: number }> }

function gradeTable(rows: Array<[string, Grades | undefined]>): string[] {
  const out = ['| task | faces | accuracy | S share / accuracy | A | B | C | D |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const [task, g] of rows) {
    if (!g) continue;
    const cell = (k: string) => (g.grades[k] ? `${pct(g.grades[k]!.n / g.n)} / ${pct(g.grades[k]!.accuracy)}` : '–');
    out.push(`| ${task} | ${g.n} | ${pct(g.plainAccuracy)} | ${cell('S')} | ${cell('A')} | ${cell('B')} | ${cell('C')} | ${cell('D')} |`);
  }
  return out;
}

/** UTKFace's figures by its race label (the 200-px faces, and the 64-px ones when evaluated). */
function raceTable(utk?: Record<string, { n: number; genderAccuracy: number; ageMAE: number }>, utk64?: Record<string, { n: number; genderAccuracy: number; ageMAE: number }>): string[] {
  if (!utk) return ['By race: the manifest has no per-race figures (evaluated before the breakdown was added).'];
  const out = ['### By race (UTKFace\'s label)', '', '| race | faces | gender accuracy | age error (years) |' + (utk64 ? ' 64-px faces | gender | age error |' : ''), '| --- | --- | --- | --- |' + (utk64 ? ' --- | --- | --- |' : '')];
  for (const [race, r] of Object.entries(utk)) {
    const o = utk64?.[race];
    out.push(`| ${race} | ${r.n} | ${pct(r.genderAccuracy)} | ${num(r.ageMAE)} |` + (utk64 ? ` ${o?.n ?? '–'} | ${pct(o?.genderAccuracy)} | ${num(o?.ageMAE)} |` : ''));
  }
  return out;
}

export function attributeModelCard(m: Json): string {
  const e = (m.eval ?? {}) as Json;
  const utk = (e.utkface ?? {}) as Json;
  const peer = get(e, 'peer', 'faceapi') as Json | undefined;
  const byAge = (utk.byAgeClass ?? {}) as Record<string, { n: number; genderAccuracy: number; ageMAE: number }>;
  const peerByAge = (peer?.byAgeClass ?? {}) as Record<string, { genderAccuracy: number; ageMAE: number }>;
  const sa = (e.saSoftmax ?? {}) as Record<string, Grades>;
  const low = get(e, 'saSoftmaxLowRes', 'byResolution') as Record<string, Record<string, Grades>> | undefined;
  const out: string[] = [
    `# Model card: ${String(m.name)} (version ${String(m.version)})`, '',
    `Generated from \`manifest.json\` by \`npm run docs\`; created ${String(m.created)}. Do not edit by hand.`, '',
    '## What it is',
    `A multi-task face attribute network: gender, age (years and five age groups), smile and the 40 CelebA attributes from one ${JSON.stringify(m.input)} aligned face crop, ` +
      `with SA-softmax heads whose self-assessed confidence grades each answer S (sure) to D. BatchNorm is folded into the convolutions (${String(get(m, 'folded', 'units') ?? '?')} units, ` +
      `largest difference to the unfolded network ${typeof get(m, 'folded', 'maxAbsDiffVsUnfolded') === 'number' ? (get(m, 'folded', 'maxAbsDiffVsUnfolded') as number).toExponential(1) : '?'}).` +
      (m.ensemble ? ` It merges ${((get(m, 'ensemble', 'members') as unknown[]) ?? []).length} trained networks; each head averages the members listed in the manifest.` : '') +
      ` ${num(get(e, 'msPerFace', 'batch32'), 1)} ms per face at batch 32 on the machine that evaluated it${get(m, 'inference', 'flip') ? ', with the mirror pass' : ''}.` +
      (String(m.name).endsWith('-check') ? ' Shipped as the `network` gender check (`attributes.checks`): only its gender is used, to withhold a track\'s gender where it disagrees with the main model\'s.' : ''), '',
    '## Intended use',
    '- Aggregate audience figures (share of genders, age groups, smiles) over many people, and per-person answers shown with their grade, where an answer graded below S is treated as unsure.',
    '- Not for identifying people, and not for decisions about an individual (access, eligibility, enforcement): the figures below show how often it is wrong, and for whom.', '',
    '## Data and terms',
    `- ${String(get(m, 'training', 'data') ?? 'not recorded')}`,
    `- ${String(get(m, 'training', 'terms') ?? 'not recorded')}`, '',
    `## Figures (${String(e.split ?? 'validation')} split${e.flip ? ', mirror pass' : ''})`, '',
    '| set | faces | figure | this model | face-api (same faces) |', '| --- | --- | --- | --- | --- |',
    `| CelebA | ${String(get(e, 'celeba', 'n') ?? '–')} | mean accuracy of the 40 attributes | ${pct(get(e, 'celeba', 'meanAccuracy'))}${ci(get(e, 'celeba', 'meanAccuracyCI95'))} (majority class: ${pct(get(e, 'celeba', 'majorityBaseline'))}) | |`,
    `| UTKFace | ${String(utk.n ?? '–')} | gender accuracy | ${pct(utk.genderAccuracy)}${ci(utk.genderAccuracyCI95)} | ${pct(peer?.genderAccuracy)}${ci(peer?.genderAccuracyCI95)} |`,
    `| UTKFace | ${String(utk.n ?? '–')} | age, mean absolute error | ${num(utk.ageMAE)} years | ${num(peer?.ageMAE)} years |`,
    ...(get(utk, 'adults') ? [`| UTKFace | ${String(get(utk, 'adults', 'n'))} | adults' (20-59) age, mean absolute error | ${num(get(utk, 'adults', 'ageMAE'))} years | ${num(get(peer, 'adults', 'ageMAE'))} years |`] : []),
    `| UTKFace | ${String(utk.n ?? '–')} | age group (5 classes) accuracy | ${pct(utk.age5Accuracy)} | |`,
    ...(get(e, 'utkface64') ? [
      `| UTKFace, 64-px faces | ${String(get(e, 'utkface64', 'n'))} | gender accuracy | ${pct(get(e, 'utkface64', 'genderAccuracy'))}${ci(get(e, 'utkface64', 'genderAccuracyCI95'))} | |`,
      `| UTKFace, 64-px faces | ${String(get(e, 'utkface64', 'n'))} | age, mean absolute error | ${num(get(e, 'utkface64', 'ageMAE'))} years | |`,
    ] : []),
    ...(get(e, 'celebaGender') ? [`| CelebA gender crops | ${String(get(e, 'celebaGender', 'n'))} | gender accuracy | ${pct(get(e, 'celebaGender', 'accuracy'))}${ci(get(e, 'celebaGender', 'accuracyCI95'))} | |`] : []),
    `| SMILE (LFW) | ${String(get(e, 'smile', 'n') ?? '–')} | smile accuracy | ${pct(get(e, 'smile', 'accuracy'))}${ci(get(e, 'smile', 'accuracyCI95'))} | |`,
    '', '### By age band (UTKFace)', '',
    '| age band | faces | gender accuracy | face-api | age error (years) | face-api |', '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(byAge).map(([band, r]) => `| ${band} | ${r.n} | ${pct(r.genderAccuracy)} | ${pct(peerByAge[band]?.genderAccuracy)} | ${num(r.ageMAE)} | ${num(peerByAge[band]?.ageMAE)} |`),
    '', ...raceTable(utk.byRace as Record<string, { n: number; genderAccuracy: number; ageMAE: number }> | undefined, get(e, 'utkface64', 'byRace') as Record<string, { n: number; genderAccuracy: number; ageMAE: number }> | undefined),
    '', '### Grades (SA-softmax): how often each grade is given and how often it is right', '',
    ...gradeTable([['gender', sa.gender], ['age group', sa.age5], ['smile', sa.smile]]),
  ];
  if (low) {
    for (const [res, tasks] of Object.entries(low)) {
      out.push('', `On the same faces downscaled to ${res} and back:`, '', ...gradeTable([['gender', tasks.gender], ['age group', tasks.age5], ['smile', tasks.smile]]));
    }
  }
  const weak = Object.entries(byAge).filter(([, r]) => r.genderAccuracy < 0.9).map(([band, r]) => `${band} (${pct(r.genderAccuracy)} right)`);
  const sGender = sa.gender?.grades.S?.accuracy;
  out.push('', '## Known failure modes (from the figures above)',
    (weak.length ? `- Gender is least reliable for ${weak.join(', ')}: young faces show little of it.` : '- No age band below 90% gender accuracy.') +
      (m.name === 'facestream-attributes' ? ` In the pipeline a track's gender value blends face-api's (\`attributes.faceApiGenderShare\`, ${FACE_API_GENDER_SHARE} by default); its grade stays this network's, and is withheld when face-api or the check network answers otherwise (docs/models.md).` : ''),
    `- Age error grows with age: ${Object.entries(byAge).map(([b, r]) => `${b} ${num(r.ageMAE, 1)}`).join(', ')} years.` +
      (m.name === 'facestream-attributes' ? ` In the pipeline a track's age is this network's blended with face-api's (\`attributes.faceApiAgeShare\`, ${FACE_API_AGE_SHARE} by default), nearer the truth than either on the validation faces and on video (docs/models.md).` : ''),
    typeof sGender === 'number' ? `- Even grade S is wrong ${pct(1 - sGender)} of the time for gender on clean faces; small faces are worse (the tables above).` : '',
    `- Measured on still crops of two public sets (celebrity photos, UTKFace portraits); faces in video (motion blur, pose, small size) are harder.`,
    '', '## How it was made', '', '```sh', String(get(m, 'training', 'command') ?? 'not recorded'), '```', '');
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}

export function superresModelCard(m: Json): string {
  const e = (m.eval ?? {}) as Json;
  const scales = Object.keys(e).filter((k) => /^x\d+$/.test(k));
  return [
    `# Model card: ${String(m.name)} (version ${String(m.version)})`, '',
    `Generated from \`manifest.json\` by \`npm run docs\`; created ${String(m.created)}. Do not edit by hand.`, '',
    '## What it is',
    `A TRGAN face super-resolution generator: ${JSON.stringify(m.input)} -> ${JSON.stringify(m.output)}, used by the \`superres\` element on faces too small for the attribute model. BatchNorm folded.`, '',
    '## Intended use', '- Making small faces classifiable by the attribute model. Not for showing people a "restored" face: the detail it adds is invented.', '',
    '## Data and terms', `- ${String(get(m, 'training', 'data') ?? 'not recorded')}`, `- ${String(get(m, 'training', 'terms') ?? 'not recorded')}`, '',
    `## Figures (${String(e.split ?? 'validation')} split, ${String(e.n ?? '?')} faces)`, '',
    '| scale | method | PSNR (dB) | SSIM |', '| --- | --- | --- | --- |',
    ...scales.flatMap((s) => Object.entries((e[s] ?? {}) as Record<string, { psnr: number; ssim: number }>).map(([k, v]) => `| ${s} | ${k} | ${num(v.psnr)} | ${num(v.ssim, 3)} |`)),
    '', `Attribute accuracy downstream (CelebA mean): original ${pct(get(e, 'downstream', 'original'))}, bicubic ${pct(get(e, 'downstream', 'bicubic'))}, TRGAN ${pct(get(e, 'downstream', 'trgan'))}.`,
    '', '## How it was made', '', '```sh', String(get(m, 'training', 'command') ?? 'not recorded'), '```', '',
  ].join('\n');
}

/** Every shipped model's card: path -> text. */
export function modelCards(): Map<string, string> {
  const cards = new Map<string, string>();
  for (const name of ['attributes', 'attributes-check']) {
    const dir = path.join(PROJECT_ROOT, 'models', name);
    if (name === 'attributes' || fs.existsSync(path.join(dir, 'manifest.json'))) {
      cards.set(path.join(dir, 'MODEL_CARD.md'), attributeModelCard(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Json));
    }
  }
  for (const scale of ['x4', 'x8']) {
    const dir = path.join(PROJECT_ROOT, 'models', 'superres', scale);
    if (fs.existsSync(path.join(dir, 'manifest.json'))) {
      cards.set(path.join(dir, 'MODEL_CARD.md'), superresModelCard(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Json));
    }
  }
  return cards;
}
