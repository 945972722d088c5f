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
    p.holdSnapshot('live/door', 't-3', Buffer.from('jpeg3'));
    const batch = p.batch(); // being written (PostgreSQL: asynchronously)
    expect(p.snapshotOf(batch[2]!)?.toString()).toBe('jpeg3');
    p.add(track(4)); // drops 1
    p.add(track(5)); // drops 2
    p.holdSnapshot('live/door', 't-5', Buffer.from('jpeg5'));
    p.written(batch);
    expect(p.batch().map((e) => e.id)).toEqual(['t-4', 't-5']);
    expect(p.unsaved).toEqual({ pending: 2, dropped: 2 });
    expect(p.snapshotOf(track(3))).toBeNull();
    expect(p.snapshotOf(track(5))?.toString()).toBe('jpeg5');
    p.written(p.batch());
    expect(p.length).toBe(0);
    expect(p.unsaved.pending).toBe(0);
  });
});
