/**
 * Prometheus text exposition (version 0.0.4) of facestream's counters: per stream
 * frames, drops, restarts, faces and skips by reason, the decode-to-result latency
 * histogram; socket.io clients and drops; the process' RSS, heap and live tensors.
 */
import { tf } from '../runtime/index.ts';

export const LATENCY_BUCKETS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10000];

export class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  sum = 0;
  n = 0;
  observe(v: number): void {
    let i = LATENCY_BUCKETS_MS.findIndex((b) => v <= b);
    if (i < 0) i = LATENCY_BUCKETS_MS.length;
    this.counts[i]!++;
    this.sum += v;
    this.n++;
  }
}

export interface StreamMetrics {
  name: string;
  frames: number;
  analysed: number;
  dropped: number;
  restarts: number;
  counters: Record<string, number>;
  latency: Histogram;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const metricName = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

export function renderMetrics(
  streams: StreamMetrics[], socket: { clients: number; dropped: number; invalid: number; refused: number; sent: number; oversized?: number; subscribedStreams?: number },
  store: { pending: number; dropped: number } = { pending: 0, dropped: 0 },
  bus?: { connected: boolean; appended: number; queued: number; dropped: number; errors: number },
): string {
  const out: string[] = [];
  const counter = (name: string, help: string, rows: Array<[string, number]>) => {
    out.push(`# HELP facestream_${name} ${help}`, `# TYPE facestream_${name} counter`);
    for (const [labels, v] of rows) out.push(`facestream_${name}${labels} ${v}`);
  };
  const lbl = (s: string) => `{stream="${esc(s)}"}`;
  counter('frames_total', 'Frames decoded.', streams.map((s) => [lbl(s.name), s.frames]));
  counter('frames_analysed_total', 'Frames through the analysis stages.', streams.map((s) => [lbl(s.name), s.analysed]));
  counter('frames_dropped_total', 'Frames dropped because the analysis was behind a live source.', streams.map((s) => [lbl(s.name), s.dropped]));
  counter('source_restarts_total', 'Decoder restarts.', streams.map((s) => [lbl(s.name), s.restarts]));
  const keys = [...new Set(streams.flatMap((s) => Object.keys(s.counters)))].sort();
  for (const k of keys) {
    counter(`${metricName(k)}_total`, `Pipeline counter ${k}.`, streams.map((s) => [lbl(s.name), s.counters[k] ?? 0]));
  }
  out.push('# HELP facestream_latency_ms Decode-to-result latency of analysed frames.', '# TYPE facestream_latency_ms histogram');
  for (const s of streams) {
    let cum = 0;
    LATENCY_BUCKETS_MS.forEach((b, i) => {
      cum += s.latency.counts[i]!;
      out.push(`facestream_latency_ms_bucket{stream="${esc(s.name)}",le="${b}"} ${cum}`);
    });
    out.push(`facestream_latency_ms_bucket{stream="${esc(s.name)}",le="+Inf"} ${s.latency.n}`);
    out.push(`facestream_latency_ms_sum${lbl(s.name)} ${s.latency.sum}`, `facestream_latency_ms_count${lbl(s.name)} ${s.latency.n}`);
  }
  out.push('# HELP facestream_socket_clients Connected socket.io clients.', '# TYPE facestream_socket_clients gauge', `facestream_socket_clients ${socket.clients}`);
  counter('socket_events_sent_total', 'Events sent to socket.io clients.', [['', socket.sent]]);
  counter('socket_events_dropped_total', 'Events dropped for slow socket.io clients.', [['', socket.dropped]]);
  counter('socket_invalid_messages_total', 'Unknown or malformed socket.io messages.', [['', socket.invalid]]);
  counter('socket_refused_total', 'socket.io connections refused for a missing or wrong token or a foreign origin.', [['', socket.refused]]);
  out.push('# HELP facestream_socket_subscribed_streams Stream names with at least one subscribed socket.io client.', '# TYPE facestream_socket_subscribed_streams gauge', `facestream_socket_subscribed_streams ${socket.subscribedStreams ?? 0}`);
  counter('socket_oversized_messages_total', 'socket.io connections closed for a message over the size limit.', [['', socket.oversized ?? 0]]);
  const gauge = (name: string, help: string, v: number) => out.push(`# HELP facestream_${name} ${help}`, `# TYPE facestream_${name} gauge`, `facestream_${name} ${v}`);
  gauge('store_pending_tracks', 'Ended tracks waiting for the database to be writable.', store.pending);
  counter('store_dropped_tracks_total', 'Ended tracks dropped because too many waited for the database.', [['', store.dropped]]);
  if (bus) {
    gauge('bus_connected', 'Whether the Redis event bus is connected (1) or not (0).', bus.connected ? 1 : 0);
    gauge('bus_queued_events', 'Events waiting for Redis.', bus.queued);
    counter('bus_appended_events_total', 'Events appended to Redis Streams.', [['', bus.appended]]);
    counter('bus_dropped_events_total', 'Events dropped because too many waited for Redis.', [['', bus.dropped]]);
  }
  const mem = process.memoryUsage();
  gauge('process_resident_memory_bytes', 'Resident set size of the process.', mem.rss);
  gauge('process_heap_used_bytes', 'V8 heap in use (main thread).', mem.heapUsed);
  gauge('tensors', 'Live tfjs tensors (main thread).', tf.memory().numTensors);
  return out.join('\n') + '\n';
}
