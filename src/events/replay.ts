/**
 * The node's recent events, bounded (`events.buffer`, oldest out first): what
 * GET /api/events pages through and what a reconnecting socket.io client is sent again
 * when the bus keeps no history (with `bus.kind: redis` the Redis Streams do).
 */
import { compareEventIds, type EventId } from './ids.ts';
import type { EventType, FacestreamEvent } from './types.ts';

export interface EventQuery {
  stream?: string;
  /** Events after this id (oldest first); without it, the newest `limit`. */
  after?: EventId;
  types?: ReadonlySet<EventType | string>;
  limit: number;
}

/** What a resuming client missed: the events, and the streams of which some are gone. */
export interface Missed { events: FacestreamEvent[]; gaps: string[] }

/**
 * Where a resuming client's missed events come from (this buffer, the Redis Streams): the
 * events of `streams` ('*' every one) after the client's cursor for each (`after`), or after
 * `since` for a stream it has no cursor of, oldest first per stream, at most `limit`.
 */
export type ReplaySource = (streams: readonly string[], after: Readonly<Record<string, EventId>>, since: EventId | undefined, limit: number) => Missed | Promise<Missed>;

export interface EventPage {
  events: FacestreamEvent[];
  /** More events match after the last one returned. */
  more: boolean;
}

export class ReplayBuffer {
  private readonly ring: (FacestreamEvent | undefined)[];
  private start = 0;
  private size = 0;
  /** Per stream: the id of the newest event that fell out of the buffer. */
  private readonly evicted = new Map<string, EventId>();

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`replay buffer capacity ${capacity}`);
    this.ring = new Array(capacity);
  }

  push(e: FacestreamEvent): void {
    if (this.size === this.capacity) {
      const old = this.ring[this.start]!;
      this.evicted.set(old.stream, old.id);
      this.ring[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    } else {
      this.ring[(this.start + this.size) % this.capacity] = e;
      this.size++;
    }
    // bounded: the names of streams long gone are forgotten with their events
    if (this.evicted.size > 4 * this.capacity) this.evicted.clear();
  }

  /** Oldest first. */
  *values(): IterableIterator<FacestreamEvent> {
    for (let i = 0; i < this.size; i++) yield this.ring[(this.start + i) % this.capacity]!;
  }

  query(q: EventQuery): EventPage {
    const match = (e: FacestreamEvent) => (!q.stream || e.stream === q.stream) && (!q.types || q.types.has(e.type));
    if (q.after == null) {
      // the newest `limit`, oldest first
      const out: FacestreamEvent[] = [];
      for (let i = this.size - 1; i >= 0 && out.length < q.limit; i--) {
        const e = this.ring[(this.start + i) % this.capacity]!;
        if (match(e)) out.push(e);
      }
      return { events: out.reverse(), more: false };
    }
    const out: FacestreamEvent[] = [];
    let more = false;
    for (const e of this.values()) {
      if (!match(e) || compareEventIds(e.id, q.after) <= 0) continue;
      if (out.length === q.limit) { more = true; break; }
      out.push(e);
    }
    return { events: out, more };
  }

  /**
   * The streams (of those `wanted` accepts) with events after their cursor that fell out of
   * the buffer: the client missed events that cannot be sent again.
   */
  lost(wanted: (stream: string) => boolean, cursor: (stream: string) => EventId | undefined): string[] {
    const out: string[] = [];
    for (const [stream, id] of this.evicted) {
      const after = cursor(stream);
      if (wanted(stream) && after != null && compareEventIds(id, after) > 0) out.push(stream);
    }
    return out;
  }

  /** A ReplaySource over this buffer; `gaps` also names streams cut by `limit`. */
  resume(streams: readonly string[], after: Readonly<Record<string, EventId>>, since: EventId | undefined, limit: number): Missed {
    const all = streams.includes('*');
    const wanted = (s: string) => all || streams.includes(s);
    const cursor = (s: string): EventId | undefined => (Object.hasOwn(after, s) ? after[s] : since);
    const events: FacestreamEvent[] = [];
    const gaps = new Set(this.lost(wanted, cursor));
    for (const e of this.values()) {
      if (!wanted(e.stream)) continue;
      const c = cursor(e.stream);
      if (c == null || compareEventIds(e.id, c) <= 0) continue;
      if (events.length === limit) { gaps.add(e.stream); continue; }
      events.push(e);
    }
    return { events, gaps: [...gaps] };
  }
}
