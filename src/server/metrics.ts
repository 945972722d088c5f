/**
 * `/metrics` through prom-client, one registry per app (no process-wide state): per stream
 * frames, drops, restarts, faces skipped by reason, pipeline counters and the
 * decode-to-result latency histogram (seconds); socket.io clients, subscriptions and
 * refusals; storage and bus queues; live tensors; and prom-client's standard process and
 * Node.js metrics (CPU, resident memory, heap, event-loop lag, descriptors). Values are read
 * from the running streams at scrape time.
 */
import client from 'prom-client';
import { PACKAGE_VERSION } from '../data.ts';
import { EVENT_SCHEMA_VERSION } from '../events/types.ts';

import { LATENCY_BUCKETS_S, type LatencyHistogram } from '../pipeline/latency.ts';

export interface StreamMetrics {
  name: string;
  frames: number;
  analysed: number;
  dropped: number;
  restarts: number;
  counters: Record<string, number>;
  latency: LatencyHistogram;
  /** Milliseconds per analysed frame by stage (moving average; see StreamStats.stageMs). */
  stageMs?: Record<string, number>;
}

export interface SocketMetrics { clients: number; dropped: number; invalid: number; refused: number; sent: number; oversized?: number; subscribedStreams?: number; replayed?: number; videoFrames?: number; videoSkipped?: number }
export interface StoreMetrics { pending: number; dropped: number }
export interface BusMetrics { connected: boolean; appended: number; queued: number; dropped: number; errors: number }

export interface MetricsSources {
  streams: () => StreamMetrics[];
  socket: () => SocketMetrics;
  store: () => StoreMetrics;
  bus?: () => BusMetrics | undefined;
  mqtt?: () => { connected: boolean; published: number; queued: number; dropped: number } | undefined;
  alerts?: () => { raised: ReadonlyMap<string, number>; active: number };
  tensors?: () => number;
  /** The inference engine (src/runtime/onnx.ts) and, for onnxruntime, its runs. */
  engine?: { info: { engine: string; detail: string }; stats?: { runs: number; ms: number } };
}

export interface Metrics {
  readonly registry: client.Registry;
  readonly contentType: string;
  text(): Promise<string>;
}

type Row = [labels: Record<string, string>, value: number];

export function createMetrics(src: MetricsSources): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  // a counter whose value is read at scrape time (the pipeline keeps the running totals)
  const counter = (name: string, help: string, labelNames: string[], rows: () => Row[]) => new client.Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of rows()) if (v > 0 || Object.keys(labels).length) this.inc(labels, v);
    },
  });
  const gauge = (name: string, help: string, value: () => number) => new client.Gauge({
    name, help, registers: [registry], collect() { this.set(value()); },
  });
  // the standard info metric: a constant 1 whose labels say what runs
  new client.Gauge({
    name: 'facestream_build_info', help: 'facestream\'s version, the event schema version and Node\'s version (always 1).',
    labelNames: ['version', 'schema', 'node'], registers: [registry],
  }).set({ version: PACKAGE_VERSION, schema: String(EVENT_SCHEMA_VERSION), node: process.versions.node }, 1);
  if (src.engine) {
    new client.Gauge({
      name: 'facestream_engine_info', help: 'The inference engine the networks run on: onnxruntime or tfjs, with its details (always 1).',
      labelNames: ['engine', 'detail'], registers: [registry],
    }).set({ engine: src.engine.info.engine, detail: src.engine.info.detail }, 1);
    const stats = src.engine.stats;
    if (stats) {
      counter('facestream_engine_runs_total', 'Network runs on onnxruntime (all networks, one at a time).', [], () => [[{}, stats.runs]]);
      counter('facestream_engine_run_seconds_total', 'Seconds spent in onnxruntime runs.', [], () => [[{}, stats.ms / 1000]]);
    }
  }
  counter('facestream_socket_events_replayed_total', 'Events sent again to socket.io clients resuming after a reconnect.', [], () => [[{}, src.socket().replayed ?? 0]]);
  const perStream = (pick: (s: StreamMetrics) => number) => () => src.streams().map((s): Row => [{ stream: s.name }, pick(s)]);

  counter('facestream_frames_total', 'Frames decoded.', ['stream'], perStream((s) => s.frames));
  counter('facestream_frames_analysed_total', 'Frames through the analysis stages.', ['stream'], perStream((s) => s.analysed));
  counter('facestream_frames_dropped_total', 'Frames dropped because the analysis was behind a live source.', ['stream'], perStream((s) => s.dropped));
  counter('facestream_source_restarts_total', 'Decoder restarts.', ['stream'], perStream((s) => s.restarts));
  counter('facestream_faces_skipped_total', 'Faces not classified, by the quality gate\'s reason.', ['stream', 'reason'], () => src.streams().flatMap((s) =>
    Object.entries(s.counters).filter(([k]) => k.startsWith('skipped.')).map(([k, v]): Row => [{ stream: s.name, reason: k.slice('skipped.'.length) }, v])));
  counter('facestream_pipeline_total', 'Pipeline counters (tracks, faces.passed, faces.classified, superres.faces, ...).', ['stream', 'counter'], () => src.streams().flatMap((s) =>
    Object.entries(s.counters).filter(([k]) => !k.startsWith('skipped.')).map(([k, v]): Row => [{ stream: s.name, counter: k }, v])));
  registry.registerMetric(latencyMetric(src) as unknown as client.Metric);
  new client.Gauge({
    name: 'facestream_stage_milliseconds', help: 'Milliseconds per analysed frame by stage (wait: decoded to analysis start; then each element), moving average of about 20 frames.',
    labelNames: ['stream', 'stage'], registers: [registry],
    collect() {
      this.reset();
      for (const s of src.streams()) for (const [stage, ms] of Object.entries(s.stageMs ?? {})) this.set({ stream: s.name, stage }, ms);
    },
  });

  gauge('facestream_socket_clients', 'Connected socket.io clients.', () => src.socket().clients);
  gauge('facestream_socket_subscribed_streams', 'Stream names with at least one subscribed socket.io client.', () => src.socket().subscribedStreams ?? 0);
  counter('facestream_socket_events_sent_total', 'Events sent to socket.io clients.', [], () => [[{}, src.socket().sent]]);
  counter('facestream_socket_events_dropped_total', 'Events dropped for slow socket.io clients.', [], () => [[{}, src.socket().dropped]]);
  counter('facestream_socket_invalid_messages_total', 'Unknown or malformed socket.io messages.', [], () => [[{}, src.socket().invalid]]);
  counter('facestream_socket_refused_total', 'socket.io connections refused for a missing or wrong token or a foreign origin.', [], () => [[{}, src.socket().refused]]);
  counter('facestream_video_frames_sent_total', 'Live-view frames sent to watching dashboards (dashboard.video).', [], () => [[{}, src.socket().videoFrames ?? 0]]);
  counter('facestream_video_frames_skipped_total', 'Live-view frames not sent to a watcher still receiving the previous one.', [], () => [[{}, src.socket().videoSkipped ?? 0]]);
  counter('facestream_socket_oversized_messages_total', 'socket.io connections closed for a message over the size limit.', [], () => [[{}, src.socket().oversized ?? 0]]);
  gauge('facestream_store_pending_tracks', 'Ended tracks waiting for the database to be writable.', () => src.store().pending);
  counter('facestream_store_dropped_tracks_total', 'Ended tracks dropped because too many waited for the database.', [], () => [[{}, src.store().dropped]]);
  if (src.alerts) {
    const a = src.alerts;
    counter('facestream_alerts_total', 'Alerts raised, by rule.', ['rule'], () => [...a().raised].map(([rule, n]): Row => [{ rule }, n]));
    gauge('facestream_alerts_active', 'Alerts raised and not yet cleared.', () => a().active);
  }
  if (src.mqtt) {
    const m = src.mqtt;
    gauge('facestream_mqtt_connected', 'Whether the MQTT broker is connected (1) or not (0).', () => (m()?.connected ? 1 : 0));
    gauge('facestream_mqtt_queued_events', 'Events waiting for the MQTT broker.', () => m()?.queued ?? 0);
    counter('facestream_mqtt_published_total', 'Messages the MQTT broker acknowledged (events and retained states).', [], () => [[{}, m()?.published ?? 0]]);
    counter('facestream_mqtt_dropped_events_total', 'Events dropped because too many waited for the MQTT broker.', [], () => [[{}, m()?.dropped ?? 0]]);
  }
  if (src.bus) {
    const bus = src.bus;
    gauge('facestream_bus_connected', 'Whether the Redis event bus is connected (1) or not (0).', () => (bus()?.connected ? 1 : 0));
    gauge('facestream_bus_queued_events', 'Events waiting for Redis.', () => bus()?.queued ?? 0);
    counter('facestream_bus_appended_events_total', 'Events appended to Redis Streams.', [], () => [[{}, bus()?.appended ?? 0]]);
    counter('facestream_bus_dropped_events_total', 'Events dropped because too many waited for Redis.', [], () => [[{}, bus()?.dropped ?? 0]]);
  }
  if (src.tensors) gauge('facestream_tensors', 'Live tfjs tensors (main thread).', src.tensors);

  return { registry, contentType: registry.contentType, text: () => registry.metrics() };
}

/** The per-stream latency histograms, read at scrape time (prom-client has no setter for a histogram's buckets). */
function latencyMetric(src: MetricsSources) {
  const name = 'facestream_latency_seconds';
  return {
    name,
    help: 'Decode-to-result latency of analysed frames.',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name, help: 'Decode-to-result latency of analysed frames.', type: 'histogram', aggregator: 'sum',
      values: src.streams().flatMap((s) => {
        let cum = 0;
        const rows = LATENCY_BUCKETS_S.map((le, i) => {
          cum += s.latency.counts[i]!;
          return { metricName: `${name}_bucket`, labels: { stream: s.name, le }, value: cum };
        });
        rows.push({ metricName: `${name}_bucket`, labels: { stream: s.name, le: '+Inf' as unknown as number }, value: s.latency.n });
        return [...rows,
          { metricName: `${name}_sum`, labels: { stream: s.name } as never, value: s.latency.sum },
          { metricName: `${name}_count`, labels: { stream: s.name } as never, value: s.latency.n }];
      }),
    }),
    reset: () => {},
  };
}
