import { describe, expect, it } from 'vitest';
import type { FacestreamEvent } from '../../src/events/types.ts';
import { scoreDemo } from './demo.ts';

/** A track.ended with these final answers. */
const ended = (trackId: number, gender: [string, string] | undefined, age: [string, string, number] | undefined, visitor?: string) => ({
  type: 'track.ended', trackId, stream: 'demo', v: 1, id: `e${trackId}`, ts: 0, ptsMs: 0, firstSeenMs: 0, lastSeenMs: 0, dwellMs: 0, frames: 9, flags: [],
  ...(visitor ? { visitor: { id: visitor, returning: false } } : {}),
  ...(gender || age ? {
    attributes: {
      ...(gender ? { gender: { value: gender[0], grade: gender[1], probability: 0.9, confidence: 0.9, frames: 5 } } : {}),
      ...(age ? { ageGroup: { value: age[0], grade: age[1], probability: 0.9, confidence: 0.9, frames: 5 }, age: age[2] } : {}),
    },
  } : {}),
}) as unknown as FacestreamEvent;

describe('eval demo: the demo clip against its ground truth (all young adult women)', () => {
  it('counts the answers graded B or better, as the aggregates do; C and D are reported but not counted', () => {
    const events = [
      ended(1, ['female', 'S'], ['youth', 'S', 24], 'v1'),
      ended(2, ['female', 'A'], ['middle-aged', 'B', 33], 'v2'),
      ended(3, ['male', 'B'], ['child', 'A', 11], 'v2'), // the same visitor again
      ended(4, ['male', 'C'], ['baby', 'C', 2], 'v3'),
      ended(5, undefined, undefined, 'v4'), // no face good enough
      { type: 'stream.ended', frames: 100 } as unknown as FacestreamEvent,
    ];
    const r = scoreDemo(events, 'demo.mp4', 'default');
    expect(r.tracks).toBe(5);
    expect(r.visitors).toBe(4);
    expect(r.gender).toMatchObject({ answered: 4, right: 2, values: { female: 2, male: 2 }, counted: { n: 3, right: 2, share: 0.667 } });
    expect(r.gender.byGrade.C).toEqual({ n: 1, right: 0 });
    expect(r.ageGroup).toMatchObject({ answered: 4, right: 2, counted: { n: 3, right: 2 }, countedBabyOrChild: 1, countedBabyOrChildShare: 0.333 });
    expect(r.age).toEqual({ n: 4, p25: 11, median: 24, p75: 33 });
    expect(r.meets).toEqual({ female90: false, babyOrChildUnder5: false });
  });

  it('meets the bar only with >= 90% female and < 5% baby or child among the counted answers', () => {
    const good = Array.from({ length: 20 }, (_, i) => ended(i, ['female', 'A'], ['youth', 'A', 25]));
    expect(scoreDemo(good, 'demo.mp4', 'default').meets).toEqual({ female90: true, babyOrChildUnder5: true });
    const oneChild = [...good, ended(99, ['female', 'A'], ['child', 'B', 10])];
    expect(scoreDemo(oneChild, 'demo.mp4', 'default').meets.babyOrChildUnder5).toBe(true); // 1 of 21 < 5%
    const twoMen = [...good.slice(0, 9), ended(98, ['male', 'S'], undefined), ended(97, ['male', 'B'], undefined)];
    expect(scoreDemo(twoMen, 'demo.mp4', 'default').meets.female90).toBe(false); // 9 of 11
    expect(scoreDemo([], 'demo.mp4', 'default').meets).toEqual({ female90: false, babyOrChildUnder5: false });
  });
});
