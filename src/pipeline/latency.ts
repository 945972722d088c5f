/**
 * Decode-to-result latency of one stream's analysed frames, counted in fixed buckets
 * (seconds, Prometheus' convention) so that the metrics layer can expose it as a histogram
 * without the pipeline knowing about Prometheus.
 */
export const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class LatencyHistogram {
  /** Per bucket (not cumulative); the last one is above the largest bound. */
  readonly counts = new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0);
  /** Sum of the observations, in seconds. */
  sum = 0;
  n = 0;
  observeMs(ms: number): void {
    const s = ms / 1000;
    let i = LATENCY_BUCKETS_S.findIndex((b) => s <= b);
    if (i < 0) i = LATENCY_BUCKETS_S.length;
    this.counts[i]!++;
    this.sum += s;
    this.n++;
  }
}
