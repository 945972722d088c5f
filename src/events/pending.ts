/**
 * Ended tracks waiting for a store that cannot be written now (the SQLite file or
 * PostgreSQL), with the thumbnails that arrived for them meanwhile; past `max` the oldest
 * are dropped and counted. Shared by both stores, so that what waits, what is dropped and
 * what a write takes away are kept the same way.
 */
import type { TrackEnded } from './types.ts';

const key = (stream: string, id: string) => `${stream} ${id}`;

export class PendingTracks {
  private list: TrackEnded[] = [];
  private readonly snaps = new Map<string, Buffer>();
  /** Tracks waiting for a writable store, and tracks dropped because too many waited (GET /health). */
  readonly unsaved = { pending: 0, dropped: 0 };
  constructor(private readonly max: number) {}

  get length(): number { return this.list.length; }

  add(e: TrackEnded): void {
    this.list.push(e);
    if (this.list.length > this.max) {
      for (const d of this.list.splice(0, this.list.length - this.max)) { this.unsaved.dropped++; this.snaps.delete(key(d.stream, d.id)); }
    }
    this.unsaved.pending = this.list.length;
  }

  /** Keeps a thumbnail with its track while the track waits; false when it does not wait (it is in the store, or was never seen). */
  holdSnapshot(stream: string, id: string, jpeg: Buffer): boolean {
    if (!this.list.some((e) => e.stream === stream && e.id === id)) return false;
    this.snaps.set(key(stream, id), jpeg);
    return true;
  }

  snapshotOf(e: TrackEnded): Buffer | null {
    return this.snaps.get(key(e.stream, e.id)) ?? null;
  }

  /** What waits now, oldest first: a copy, since tracks may come (and old ones be dropped) while it is written. */
  batch(): TrackEnded[] {
    return this.list.slice();
  }

  /** The tracks of `batch` are in the store: they wait no longer. Tracks added or dropped while it was written stay as they are. */
  written(batch: readonly TrackEnded[]): void {
    const done = new Set(batch);
    this.list = this.list.filter((e) => !done.has(e));
    for (const e of batch) this.snaps.delete(key(e.stream, e.id));
    this.unsaved.pending = this.list.length;
  }
}
