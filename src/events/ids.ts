/**
 * Event ids: `MS-SEQ`, the time in ms since the epoch and a sequence within that ms,
 * strictly increasing per stream (the form of a Redis Stream entry id, so that the Redis
 * bus appends each event under its own id and a reader resumes from it there too). Ids of
 * different streams compare by time.
 */
export type EventId = string;

const ID = /^(\d{1,16})-(\d{1,16})$/;

export function parseEventId(id: string): [number, number] | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  const ms = Number(m[1]), seq = Number(m[2]);
  return Number.isSafeInteger(ms) && Number.isSafeInteger(seq) ? [ms, seq] : undefined;
}

export function isEventId(id: unknown): id is EventId {
  return typeof id === 'string' && parseEventId(id) !== undefined;
}

/** Negative, zero or positive as `a` is before, equal to or after `b` (both valid ids). */
export function compareEventIds(a: EventId, b: EventId): number {
  const [am, as] = parseEventId(a) ?? [0, 0];
  const [bm, bs] = parseEventId(b) ?? [0, 0];
  return am - bm || as - bs;
}

/** One per node: the next id of each stream, never going back even if the clock does. */
export class EventIds {
  private readonly last = new Map<string, [number, number]>();
  constructor(private readonly now: () => number = Date.now) {}

  /** The next id of `stream`, from the event's own time `at` (default now). */
  next(stream: string, at?: number): EventId {
    const prev = this.last.get(stream);
    const t = Math.floor(at ?? this.now());
    const id: [number, number] = !prev || t > prev[0] ? [t, 0] : [prev[0], prev[1] + 1];
    this.last.set(stream, id);
    return `${id[0]}-${id[1]}`;
  }

  /** Ids of this stream continue after `id` (an id found in Redis after a restart, ...). */
  floor(stream: string, id: EventId): void {
    const p = parseEventId(id);
    const prev = this.last.get(stream);
    if (p && (!prev || p[0] > prev[0] || (p[0] === prev[0] && p[1] > prev[1]))) this.last.set(stream, p);
  }

}
