import { describe, expect, it } from 'vitest';
import { addAnswers, addClass, bandOf, genderGrade, newClassAcc, newTrackAnswers, smoothedAnswers, smoothedClass, trackAge, type FrameAnswers, policyGrade } from './smooth.ts';
import { AGE_BINS } from '../models/attributes/labels.ts';

const obs = (female: number, confidence: number) => ({ probs: { male: 1 - female, female }, confidence });

describe('confidence-weighted smoothing', () => {
  it('a confident majority outweighs a few confident-wrong frames', () => {
    const acc = newClassAcc();
    for (let i = 0; i < 8; i++) addClass(acc, obs(0.9, 0.9));
    for (let i = 0; i < 3; i++) addClass(acc, obs(0.05, 0.95));
    const r = smoothedClass(acc)!;
    expect(r.value).toBe('female');
    expect(r.frames).toBe(11);
    expect(r.grade).toBe('S');
  });

  it('low-confidence frames move the result little', () => {
    const acc = newClassAcc();
    for (let i = 0; i < 3; i++) addClass(acc, obs(0.8, 0.9));
    const before = smoothedClass(acc)!.probability;
    for (let i = 0; i < 6; i++) addClass(acc, obs(0.0, 0.02)); // doubtful frames say "male"
    const after = smoothedClass(acc)!;
    expect(after.value).toBe('female');
    expect(before - after.probability).toBeLessThan(0.05);
    // ...but the track's confidence tells that most of its frames were doubtful
    expect(after.confidence).toBeLessThan(0.4);
  });

  it('no frame, no answer', () => {
    expect(smoothedClass(newClassAcc())).toBeUndefined();
  });
});

/** One frame of the attribute model's answers, made by hand: age-group probabilities, their SA confidence, an age in years. */
const frame = (groups: Record<string, number>, confidence: number, age: number): FrameAnswers => ({
  gender: { probs: { male: 0.1, female: 0.9 }, confidence: 0.9 },
  ageGroup: { probs: groups, confidence },
  smiling: { probs: { no: 0.5, yes: 0.5 }, confidence: 0.5 },
  age,
  celeba: {},
});

/** One look of face-api: an age, a gender (female by default, as the frames above), its share in the age; no share in the gender. */
const look = (age: number, ageShare: number, female = 0.9, genderShare = 0) => ({ age, gender: { probs: { male: 1 - female, female }, confidence: 1 }, ageShare, genderShare });

describe('one age: the group is the band of the age in years', () => {
  it('bands by years, fractions included', () => {
    expect([0, 3, 3.6, 4, 12.9, 13, 30.5, 31, 55.9, 56, 116].map((a) => bandOf(a, AGE_BINS).name))
      .toEqual(['baby', 'baby', 'baby', 'child', 'child', 'youth', 'youth', 'middle-aged', 'middle-aged', 'old', 'old']);
  });

  it('"baby (~43)" cannot be said: the heads disagree, the group follows the age and is graded C at best', () => {
    const acc = newTrackAnswers();
    for (let i = 0; i < 5; i++) addAnswers(acc, frame({ baby: 0.7, child: 0.1, youth: 0.1, 'middle-aged': 0.05, old: 0.05 }, 0.95, 43));
    const a = smoothedAnswers(acc, { ageBands: AGE_BINS });
    expect(a.age).toBe(43);
    expect(a.ageGroup!.value).toBe('middle-aged');
    expect(a.ageGroup!.probability).toBeCloseTo(0.05, 3); // what the group head gave that band
    expect(a.ageGroup!.grade).toBe('C');
    // without the bands (the old behaviour), the contradiction
    expect(smoothedAnswers(acc).ageGroup!.value).toBe('baby');
  });

  it('when the heads agree the grade is the SA grade, and every answer is coherent', () => {
    const acc = newTrackAnswers();
    for (let i = 0; i < 5; i++) addAnswers(acc, frame({ baby: 0.02, child: 0.03, youth: 0.85, 'middle-aged': 0.05, old: 0.05 }, 0.9, 24));
    const a = smoothedAnswers(acc, { ageBands: AGE_BINS });
    expect(a.ageGroup).toMatchObject({ value: 'youth', grade: 'S' });
    // random answers: the group is always the band of the number
    for (let t = 0; t < 200; t++) {
      const r = newTrackAnswers();
      for (let i = 0; i < 1 + (t % 7); i++) {
        const p = AGE_BINS.map(() => Math.random());
        const sum = p.reduce((x, y) => x + y, 0);
        addAnswers(r, frame(Object.fromEntries(AGE_BINS.map((b, k) => [b.name, p[k]! / sum])), Math.random(), Math.random() * 90));
      }
      const out = smoothedAnswers(r, { ageBands: AGE_BINS });
      expect(out.ageGroup!.value).toBe(bandOf(Math.round(out.age! * 10) / 10, AGE_BINS).name);
    }
  });

  it('face-api\'s age: the track\'s age blends the mean of its looks with the network\'s by the share; the group follows the blended age; share 0 or no look: the network\'s alone', () => {
    const youth = { baby: 0.02, child: 0.03, youth: 0.45, 'middle-aged': 0.45, old: 0.05 };
    const acc = newTrackAnswers();
    for (let i = 0; i < 4; i++) addAnswers(acc, frame(youth, 0.9, 26));
    expect(trackAge(acc)).toBeCloseTo(26, 6); // no look yet
    addAnswers(acc, { ...frame(youth, 0.9, 26), faceApi: look(40, 0.7) });
    addAnswers(acc, { ...frame(youth, 0.9, 26), faceApi: look(44, 0.7) });
    // face-api's looks each weigh the same (mean 42), whatever the network's confidence
    expect(trackAge(acc)).toBeCloseTo(0.3 * 26 + 0.7 * 42, 6);
    const a = smoothedAnswers(acc, { ageBands: AGE_BINS });
    expect(a.age).toBe(37.2);
    expect(a.ageGroup!.value).toBe('middle-aged'); // the band of the blended age
    const none = newTrackAnswers();
    for (let i = 0; i < 3; i++) addAnswers(none, { ...frame(youth, 0.9, 26), faceApi: look(60, 0) });
    expect(smoothedAnswers(none, { ageBands: AGE_BINS }).age).toBe(26);
    // a child by the blended age has its gender withheld under genderMinAge
    const kid = newTrackAnswers();
    for (let i = 0; i < 3; i++) addAnswers(kid, { ...frame(youth, 0.9, 16), faceApi: look(8, 0.7) });
    const policy = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderMinAge: 13 };
    expect(smoothedAnswers(kid, { ageBands: AGE_BINS, policy, widthPx: 200 }).gender!.grade).toBe('C');
  });

  it('face-api\'s gender: the blend of the log-odds by the share gives the value and probability; the grade and frames stay the network\'s; the checks compare face-api with the network', () => {
    // the network: female at 0.9 in 3 frames (frame()); face-api twice male at 0.8
    const acc = newTrackAnswers();
    for (let i = 0; i < 3; i++) addAnswers(acc, frame({ youth: 1 }, 0.9, 30));
    const alone = smoothedAnswers(acc).gender!;
    expect(alone).toMatchObject({ value: 'female', probability: 0.9, frames: 3 });
    addAnswers(acc, { ...frame({ youth: 1 }, 0.9, 30), faceApi: look(30, 0, 0.2, 0.7) });
    addAnswers(acc, { ...frame({ youth: 1 }, 0.9, 30), faceApi: look(30, 0, 0.2, 0.7) });
    // log-odds: network ln 9 = 2.197 for female, face-api ln(0.2/0.8) = -1.386: 0.3 * 2.197 - 0.7 * 1.386 = -0.311
    const z = 0.3 * Math.log(9) + 0.7 * Math.log(0.25);
    const g = smoothedAnswers(acc).gender!;
    expect(g.value).toBe('male');
    expect(g.probability).toBeCloseTo(Math.round(1000 / (1 + Math.exp(z))) / 1000, 3);
    expect(g.frames).toBe(5);
    expect(g.grade).toBe(alone.grade);
    // share 0: the network's alone
    const off = newTrackAnswers();
    for (let i = 0; i < 3; i++) addAnswers(off, { ...frame({ youth: 1 }, 0.9, 30), faceApi: look(30, 0, 0.2, 0) });
    expect(smoothedAnswers(off).gender).toMatchObject({ value: 'female', probability: 0.9 });
    // with the face-api check on the same looks: it disagrees with the network, so the answer is withheld
    const checked = newTrackAnswers();
    for (let i = 0; i < 3; i++) {
      const obs = { probs: { male: 0.8, female: 0.2 }, confidence: 1 };
      addAnswers(checked, { ...frame({ youth: 1 }, 0.9, 30), faceApi: look(30, 0, 0.2, 0.7), genderChecks: { 'face-api': obs } });
    }
    const policy = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderCheck: true };
    const w = smoothedAnswers(checked, { policy, widthPx: 200 }).gender!;
    expect(w).toMatchObject({ value: 'male', check: 'disagrees', checks: { 'face-api': 'disagrees' }, grade: 'C' });
    // agreeing: the blend is surer than either vote, and keeps the network's grade
    const agreeing = newTrackAnswers();
    for (let i = 0; i < 3; i++) addAnswers(agreeing, { ...frame({ youth: 1 }, 0.9, 30), faceApi: look(30, 0, 0.95, 0.7), genderChecks: { 'face-api': { probs: { male: 0.05, female: 0.95 }, confidence: 1 } } });
    const y = smoothedAnswers(agreeing, { policy, widthPx: 200 }).gender!;
    expect(y).toMatchObject({ value: 'female', check: 'agrees', grade: 'S' });
    expect(y.probability).toBeGreaterThan(0.93);
  });

  it('a grade policy: S needs frames, a clear majority and a wide enough face; narrow faces are withheld (C at best)', () => {
    const p = { sMinFrames: 3, sMinProbability: 0.8, sMinWidthPx: 40, withholdBelowPx: 24 };
    const c = (grade: 'S' | 'A' | 'B' | 'C' | 'D', frames = 5, probability = 0.95) => ({ value: 'female', probability, confidence: 0.9, grade, frames });
    expect(policyGrade(c('S'), 64, p)).toBe('S');
    expect(policyGrade(c('S', 2), 64, p)).toBe('A');
    expect(policyGrade(c('S', 5, 0.7), 64, p)).toBe('A');
    expect(policyGrade(c('S'), 32, p)).toBe('A');
    expect(policyGrade(c('S'), 20, p)).toBe('C');
    expect(policyGrade(c('A'), 20, p)).toBe('C');
    expect(policyGrade(c('D'), 20, p)).toBe('D'); // never raised
    expect(policyGrade(c('B'), 64, p)).toBe('B');
    expect(policyGrade(c('S'), undefined, { ...p, sMinWidthPx: 0, withholdBelowPx: 0 })).toBe('S');
    // withholdB: B (barely better than chance on the validation stills) becomes C; S and A stay
    const w = { ...p, withholdB: true };
    expect(policyGrade(c('B'), 64, w)).toBe('C');
    expect(policyGrade(c('A'), 64, w)).toBe('A');
    expect(policyGrade(c('S', 2), 64, w)).toBe('A'); // demoted from S to A, not further
    expect(policyGrade(c('S'), 64, w)).toBe('S');
  });

  it('genderMinAge: a child\'s gender is withheld (C at best); an adult\'s keeps its grade; 0 turns the rule off', () => {
    const policy = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderMinAge: 13 };
    const track = (age: number) => {
      const acc = newTrackAnswers();
      for (let i = 0; i < 5; i++) addAnswers(acc, frame({ baby: 0.1, child: 0.2, youth: 0.5, 'middle-aged': 0.1, old: 0.1 }, 0.9, age));
      return acc;
    };
    expect(smoothedAnswers(track(8), { policy, widthPx: 200 }).gender).toMatchObject({ value: 'female', grade: 'C' });
    expect(smoothedAnswers(track(12.9), { policy, widthPx: 200 }).gender!.grade).toBe('C');
    expect(smoothedAnswers(track(13), { policy, widthPx: 200 }).gender!.grade).toBe('S');
    expect(smoothedAnswers(track(8), { policy: { ...policy, genderMinAge: 0 }, widthPx: 200 }).gender!.grade).toBe('S');
    expect(smoothedAnswers(track(8)).gender!.grade).toBe('S'); // no policy, the SA grade
  });

  it('genderCheck: a gender the check network answers otherwise is withheld (C at best); agreeing keeps its grade; events say which', () => {
    const policy = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderCheck: true };
    const adult = { baby: 0, child: 0, youth: 0.9, 'middle-aged': 0.1, old: 0 };
    // ours says female at S on every frame; the check says `checkFemale` on `checkFrames` of them
    const track = (checkFemale: number[], frames = 5) => {
      const acc = newTrackAnswers();
      for (let i = 0; i < frames; i++) {
        const p = checkFemale[i];
        addAnswers(acc, { ...frame(adult, 0.9, 30), ...(p == null ? {} : { genderChecks: { network: { probs: { male: 1 - p, female: p }, confidence: 0.9 } } }) });
      }
      return acc;
    };
    const agrees = smoothedAnswers(track([0.8, 0.7, 0.9, 0.6, 0.8]), { policy, widthPx: 200 }).gender!;
    expect(agrees).toMatchObject({ value: 'female', grade: 'S', check: 'agrees', checks: { network: 'agrees' } });
    const disagrees = smoothedAnswers(track([0.2, 0.3, 0.1, 0.4, 0.2]), { policy, widthPx: 200 }).gender!;
    expect(disagrees).toMatchObject({ value: 'female', grade: 'C', check: 'disagrees' });
    // one check frame against four the other way: the check's smoothed answer decides, not a single frame
    expect(smoothedAnswers(track([0.1, 0.9, 0.9, 0.9, 0.9]), { policy, widthPx: 200 }).gender!.check).toBe('agrees');
    // the rule off (raw grades): the grade stays, the disagreement is still said
    expect(smoothedAnswers(track([0.2, 0.2, 0.2, 0.2, 0.2]), { policy: { ...policy, genderCheck: false }, widthPx: 200 }).gender).toMatchObject({ grade: 'S', check: 'disagrees' });
    // no check ran (attributes.checks []): no `check`, the grade stays
    const unchecked = smoothedAnswers(track([]), { policy, widthPx: 200 }).gender!;
    expect(unchecked.grade).toBe('S');
    expect(unchecked).not.toHaveProperty('check');
    // two checks: one disagreeing is enough to withhold, and each is named
    const two = newTrackAnswers();
    for (let i = 0; i < 3; i++) {
      addAnswers(two, { ...frame(adult, 0.9, 30), genderChecks: { network: { probs: { male: 0.1, female: 0.9 }, confidence: 0.9 }, ...(i === 0 ? { 'face-api': { probs: { male: 0.8, female: 0.2 }, confidence: 1 } } : {}) } });
    }
    expect(smoothedAnswers(two, { policy, widthPx: 200 }).gender).toMatchObject({ grade: 'C', check: 'disagrees', checks: { network: 'agrees', 'face-api': 'disagrees' } });
    // a grade already below C is not raised
    expect(genderGrade('D', { check: 'disagrees' }, policy)).toBe('D');
    expect(genderGrade('A', { check: 'disagrees' }, policy)).toBe('C');
    expect(genderGrade('A', { age: 8, check: 'agrees' }, { ...policy, genderMinAge: 13 })).toBe('C');
  });

  it('genderMinProbability: a gender with too split a vote over the track is withheld (C at best)', () => {
    const policy = { sMinFrames: 1, sMinProbability: 0, sMinWidthPx: 0, withholdBelowPx: 0, genderMinProbability: 0.8 };
    const adult = { baby: 0, child: 0, youth: 0.9, 'middle-aged': 0.1, old: 0 };
    // `femaleFrames` of 10 equally confident frames say female (0.9), the others male (0.1)
    const track = (femaleFrames: number) => {
      const acc = newTrackAnswers();
      for (let i = 0; i < 10; i++) {
        const p = i < femaleFrames ? 0.9 : 0.1;
        addAnswers(acc, { ...frame(adult, 0.9, 30), gender: { probs: { male: 1 - p, female: p }, confidence: 0.9 } });
      }
      return acc;
    };
    expect(smoothedAnswers(track(10), { policy, widthPx: 200 }).gender).toMatchObject({ value: 'female', probability: 0.9, grade: 'S' });
    expect(smoothedAnswers(track(8), { policy, widthPx: 200 }).gender).toMatchObject({ value: 'female', probability: 0.74, grade: 'C' });
    expect(smoothedAnswers(track(8), { policy: { ...policy, genderMinProbability: 0 }, widthPx: 200 }).gender!.grade).toBe('S');
    expect(smoothedAnswers(track(3), { policy, widthPx: 200 }).gender).toMatchObject({ value: 'male', probability: 0.66, grade: 'C' });
    expect(smoothedAnswers(track(1), { policy, widthPx: 200 }).gender).toMatchObject({ value: 'male', probability: 0.82, grade: 'S' });
  });
});
