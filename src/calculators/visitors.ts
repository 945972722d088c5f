/**
 * Unique visitors: a person who leaves and comes back within the window is one visitor.
 * Each ended track's face embedding is compared with those of the visitors seen in the last
 * `windowMs` (Euclidean distance, the closest one under `maxDistance` wins); a match is a
 * returning visitor, otherwise a new one. Memory only: the embeddings expire with the window
 * and leave this object never (not in events, logs, storage or metrics). A visitor's id is a
 * random token that means nothing outside this process and window.
 */
import { randomBytes } from 'node:crypto';

export interface VisitorMatch {
  /** `v-` and 8 hex digits; the same for the visits of one person within the window. */
  id: string;
  /** Whether this visitor was seen before within the window. */
  returning: boolean;
}

interface Visitor { id: string; embeddings: Float32Array[]; lastSeenMs: number }

export function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i]! - b[i]!; s += d * d; }
  return Math.sqrt(s);
}

export class VisitorRegistry {
  private visitors: Visitor[] = [];
  readonly stats = { visitors: 0, returning: 0 };

  constructor(private readonly opts: { windowMs: number; maxDistance: number; /** Embeddings kept per visitor (its latest). */ perVisitor?: number }) {}

  /** The visitor this embedding belongs to, seen at `nowMs`. */
  identify(embedding: Float32Array, nowMs: number): VisitorMatch {
    this.prune(nowMs);
    let best: Visitor | undefined;
    let bestD = Infinity;
    for (const v of this.visitors) {
      for (const e of v.embeddings) {
        const d = distance(embedding, e);
        if (d < bestD) { bestD = d; best = v; }
      }
    }
    if (best && bestD <= this.opts.maxDistance) {
      best.lastSeenMs = nowMs;
      best.embeddings.push(embedding);
      if (best.embeddings.length > (this.opts.perVisitor ?? 4)) best.embeddings.shift();
      this.stats.returning++;
      return { id: best.id, returning: true };
    }
    const v: Visitor = { id: `v-${randomBytes(4).toString('hex')}`, embeddings: [embedding], lastSeenMs: nowMs };
    this.visitors.push(v);
    this.stats.visitors++;
    return { id: v.id, returning: false };
  }

  /** Visitors (and their embeddings) held now. */
  get size(): number { return this.visitors.length; }

  /** Forgets the visitors not seen within the window. */
  prune(nowMs: number): void {
    this.visitors = this.visitors.filter((v) => nowMs - v.lastSeenMs <= this.opts.windowMs);
  }

  clear(): void { this.visitors = []; }
}
