import { describe, expect, it } from 'vitest';
import { addClass, newClassAcc, smoothedClass } from './smooth.ts';

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
