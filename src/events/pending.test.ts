import { describe, expect, it } from 'vitest';
import { PendingTracks } from './pending.ts';
import type { TrackEnded } from './types.ts';

const track = (n: number): TrackEnded => ({
  id: `t-${n}`, v: 1, stream: 'live/door', ts: n, type: 'track.ended', trackId: n, ptsMs: 0, firstSeenMs: 0, lastSeenMs: 1000, dwellMs: 1000, frames: 3, flags: [],
  attributes: { age: 30, celeba: {} },
});

describe('tracks waiting for a store', () => {
  it('past max drops the oldest, with their thumbnails, and counts them', () => {
    const p = new PendingTracks(2);
    p.add(track(1));
    expect(p.holdSnapshot('live/door', 't-1', Buffer.from('jpeg1'))).toBe(true);
    p.add(track(2));
    p.add(track(3));
    expect(p.unsaved).toEqual({ pending: 2, dropped: 1 });
    expect(p.batch().map((e) => e.id)).toEqual(['t-2', 't-3']);
    expect(p.snapshotOf(track(1))).toBeNull();
    // a thumbnail for a track that does not wait goes to the store instead
    expect(p.holdSnapshot('live/door', 't-1', Buffer.from('late'))).toBe(false);
    expect(p.holdSnapshot('other', 't-2', Buffer.from('x'))).toBe(false);
  });

  it('a write takes away what it wrote, not as many from the front: tracks dropped and added meanwhile stay right', () => {
    const p = new PendingTracks(3);
    for (const n of [1, 2, 3]) p.add(track(n));
    p.holdSnapshot('live/door', 't-1', Buffer.from('jpeg1'));
    p.holdSnapshot('live/door', 't-3', Buffer.from('jpeg3'));
    const batch = p.batch(); // being written (PostgreSQL: asynchronously)
    p.add(track(4)); // 1 leaves the queue, but it is being written
    p.add(track(5)); // so does 2
    p.holdSnapshot('live/door', 't-5', Buffer.from('jpeg5'));
    expect(p.snapshotOf(batch[0]!)?.toString()).toBe('jpeg1'); // still there for the write
    p.done(batch, true);
    expect(p.batch().map((e) => e.id)).toEqual(['t-4', 't-5']);
    expect(p.unsaved).toEqual({ pending: 2, dropped: 0 }); // 1 and 2 were written, not lost
    expect(p.snapshotOf(track(3))).toBeNull();
    expect(p.snapshotOf(track(5))?.toString()).toBe('jpeg5');
    p.done(p.batch(), true);
    expect(p.length).toBe(0);
    expect(p.unsaved.pending).toBe(0);
  });

  it('a write that fails keeps its tracks waiting, and counts those dropped meanwhile', () => {
    const p = new PendingTracks(2);
    p.add(track(1));
    p.add(track(2));
    const batch = p.batch();
    p.add(track(3)); // 1 leaves the queue while it is being written
    p.done(batch, false);
    expect(p.unsaved).toEqual({ pending: 2, dropped: 1 });
    expect(p.batch().map((e) => e.id)).toEqual(['t-2', 't-3']);
  });
});
