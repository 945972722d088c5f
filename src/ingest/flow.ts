/**
 * Flow control between a source and the stage that consumes it. RxJS has no
 * backpressure, so a slow stage says so here: a file source then pauses reading (ffmpeg
 * blocks on its pipe, nothing is lost), while a live source keeps going and the stage
 * drops its oldest queued frames, counted.
 */
export class Flow {
  private paused = false;
  private readonly listeners = new Set<(paused: boolean) => void>();

  get isPaused(): boolean { return this.paused; }

  pause(): void { this.set(true); }
  resume(): void { this.set(false); }

  /** Returns a function that removes the listener. */
  onChange(fn: (paused: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(p: boolean): void {
    if (this.paused === p) return;
    this.paused = p;
    for (const fn of this.listeners) fn(p);
  }
}
