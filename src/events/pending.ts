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
  /** The batch being written (PostgreSQL writes asynchronously): dropped from the queue meanwhile, it is settled by `done`. */
  private inFlight: Set<TrackEnded> | undefined;
  /** Tracks waiting for a writable store, and tracks dropped because too many waited (GET /health). */
  readonly unsaved = { pending: 0, dropped: 0 };
  constructor(private readonly max: number) {}

  get length(): number { return this.list.length; }

  add(e: TrackEnded): void {
    this.list.push(e);
    if (this.list.length > this.max) {
      for (const d of this.list.splice(0, this.list.length - this.max)) if (!this.inFlight?.has(d)) this.drop(d);
    }
    this.unsaved.pending = this.list.length;
  }

  private drop(d: TrackEnded): void {
    this.unsaved.dropped++;
    this.snaps.delete(key(d.stream, d.id));
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

  /** What waits now, oldest first, to be written and then settled by `done`: a copy, since tracks may come (and old ones be dropped) meanwhile. */
  batch(): TrackEnded[] {
    const b = this.list.slice();
    this.inFlight = new Set(b);
    return b;
  }

  /**
   * The batch was written (`ok`) or not. Written, its tracks wait no longer; not written, those
   * of its tracks that were dropped meanwhile are counted as dropped now. Tracks added
   * meanwhile stay as they are.
   */
  done(batch: readonly TrackEnded[], ok: boolean): void {
    const b = new Set(batch);
    this.inFlight = undefined;
    if (ok) {
      this.list = this.list.filter((e) => !b.has(e));
      for (const e of batch) this.snaps.delete(key(e.stream, e.id));
    } else {
      const waiting = new Set(this.list);
      for (const e of batch) if (!waiting.has(e)) this.drop(e);
    }
    this.unsaved.pending = this.list.length;
  }
}
