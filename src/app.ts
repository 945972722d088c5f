/**
 * `facestream start`: node-media-server (RTMP in), the facestream plugin, pulled
 * cameras from the config, and facestream's HTTP server, in one process.
 */
import os from 'node:os';
import net from 'node:net';
import { register, type FacestreamPlugin } from '../plugins/node-media-server/index.ts';
import { createMediaServer } from '../plugins/node-media-server/server.ts';
import { sourceSchema, type AppConfig, type SourceConfig } from './config.ts';
import { redact } from './redact.ts';
import type { FacestreamEvent } from './events/types.ts';
import type { AnalysedFrame } from './pipeline/types.ts';
import { createLogger } from './log.ts';
import { startRedisBus, type RedisBus } from './events/bus.ts';
import { preparePipeline, startStream, type RunningStream } from './runner/run.ts';
import { SharedResources } from './pipeline/shared.ts';
import { formatIssues, loadPipeline, type PipelineConfig } from './pipeline/schema.ts';
import { HttpError, startHttpServer, type RunningHttpServer, type StreamInfo } from './server/http.ts';
import { attachSocket, type SocketLayer } from './server/socket.ts';
import { createVideoTap } from './server/video.ts';
import { visitorService } from './models/faces/recognizer.ts';
import { createMetrics } from './server/metrics.ts';
import { engineInfo, onnxEngine } from './runtime/onnx.ts';
import { tf } from './runtime/index.ts';
import { PgStore } from './events/pgstore.ts';
import { AggregateStore, heatmap } from './events/store.ts';
import { EVENT_SCHEMA_VERSION } from './events/types.ts';
import { EventIds, compareEventIds } from './events/ids.ts';
import { ReplayBuffer, type ReplaySource } from './events/replay.ts';
import { startMqtt, type MqttOutput } from './events/mqtt.ts';
import { createAlerts } from './events/alerts.ts';
import { startLeases, type SourceLeases } from './cluster/leases.ts';
import path from 'node:path';
import { PACKAGE_VERSION } from './data.ts';

export function defaultDbFile(): string {
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir() || os.tmpdir(), '.local', 'share');
  return path.join(base, 'facestream', 'facestream.db');
}

const log = createLogger('app');

export interface App {
  rtmpPort: number;
  httpPort: number;
  socket: SocketLayer;
  plugin: FacestreamPlugin;
  pulled: Map<string, RunningStream>;
  /** The last events, newest last (bounded: `events.buffer`). */
  events(stream?: string): FacestreamEvent[];
  readonly buffer: ReplayBuffer;
  /** This node's streams, then (with `bus.kind: redis`) the other live nodes', each with its owner. */
  streams(): StreamInfo[];
  readonly nodeId: string;
  readonly bus?: RedisBus;
  stop(): Promise<void>;
}

/** Finds a free TCP port on host (port 0 asks the OS). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export async function startApp(config: AppConfig, opts: { onEvent?: (e: FacestreamEvent) => void } = {}): Promise<App> {
  const recent = new ReplayBuffer(config.events.buffer);
  const ids = new EventIds();
  let bus: RedisBus | undefined;
  let mqtt: MqttOutput | undefined;
  let socket: SocketLayer | undefined;
  const nodeId = config.node.id ?? `${os.hostname()}-${process.pid}`;
  // the inference engine (onnxruntime or tfjs), chosen and logged once per process
  const engine = await engineInfo();
  const store: AggregateStore | PgStore = config.storage.kind === 'postgres'
    ? await PgStore.open({ url: config.storage.url!, node: nodeId, retentionDays: config.storage.retentionDays, demographicsOnly: config.storage.demographicsOnly, minGrade: config.storage.minGrade })
    : new AggregateStore({
      file: config.storage.file ?? defaultDbFile(), retentionDays: config.storage.retentionDays,
      demographicsOnly: config.storage.demographicsOnly, minGrade: config.storage.minGrade,
    });
  const open = new Map<string, number>(); // stream -> tracks in view
  const alerts = createAlerts(config.alerts, (e) => onEvent({ id: ids.next(e.stream, e.ts), ...e } as FacestreamEvent));
  // the event goes out first, then the alert it raises: ids stay in order per stream
  const onEvent = (e: FacestreamEvent) => {
    deliver(e);
    alerts.onEvent(e);
  };
  const deliver = (e: FacestreamEvent) => {
    if (e.type === 'track.started') open.set(e.stream, (open.get(e.stream) ?? 0) + 1);
    if (e.type === 'track.ended') {
      open.set(e.stream, Math.max(0, (open.get(e.stream) ?? 1) - 1));
      store.addTrack(e);
    }
    // demographics only: no per-person event leaves the process
    if (config.storage.demographicsOnly && e.type.startsWith('track.')) return;
    // ...nor a track id in an alert (a dwell alert names the person's track otherwise)
    if (config.storage.demographicsOnly && e.type === 'alert' && e.trackId != null) {
      const { trackId: _dropped, ...rest } = e;
      e = rest;
    }
    if (e.type === 'stream.ended') video?.drop(e.stream);
    recent.push(e);
    socket?.publish(e);
    bus?.append(e);
    mqtt?.publish(e);
    opts.onEvent?.(e);
  };
  // the live view (dashboard.video) and thumbnails (storage.snapshots): off unless enabled
  const video = config.dashboard.video
    ? createVideoTap({ fps: config.dashboard.videoFps, width: config.dashboard.videoWidth, watching: (s) => socket?.watching(s) ?? false, send: (s, f) => socket?.sendFrame(s, f) })
    : undefined;
  const onItem = video ? (stream: string, item: AnalysedFrame) => video.offer(stream, item) : undefined;
  const onSnapshot = config.storage.snapshots ? (stream: string, id: string, jpeg: Buffer) => store.addSnapshot(stream, id, jpeg) : undefined;
  // unique visitors across this node's streams; the embeddings never leave this object
  const visitors = config.reid.enabled ? visitorService({ windowMinutes: config.reid.windowMinutes, maxDistance: config.reid.maxDistance }) : undefined;
  const visitorsTimer = visitors && setInterval(() => visitors.registry.prune(Date.now()), 60_000);
  visitorsTimer?.unref();
  const taps = (name: string) => ({
    ...(visitors ? { visitors } : {}),
    ...(onItem ? { onItem: (item: AnalysedFrame) => onItem(name, item) } : {}),
    ...(onSnapshot ? { onSnapshot: (id: string, jpeg: Buffer) => onSnapshot(name, id, jpeg) } : {}),
  });
  const pipeline = loadPipeline(config.pipeline);
  // cameras added over HTTP earlier (checked again: the rules may have tightened since)
  const configured = new Set(config.sources.map((s) => s.name));
  const stored: SourceConfig[] = [];
  for (const doc of await Promise.resolve(store.listSources()).catch((err: Error) => { log.error(`stored sources unreadable: ${err.message}`); return []; })) {
    try {
      const s = checkHttpSource(doc, config);
      if (!configured.has(s.name) && config.sources.length + stored.length < config.maxSources) stored.push(s);
    } catch (err) {
      log.warn(`stored source skipped: ${(err as Error).message}`);
    }
  }
  const initialSources = [...config.sources, ...stored];
  const sourcePipelines = initialSources.map((s) => loadPipeline(s.pipeline ?? config.pipeline));
  // models loaded (a bad model file fails the start) and detector workers started before any stream
  // the models, batchers and detector workers every stream of this app shares, freed on stop
  const shared = new SharedResources();
  for (const p of new Map([pipeline, ...sourcePipelines].map((p) => [p.file ?? p.name, p])).values()) {
    try {
      await preparePipeline(p, shared);
    } catch (err) {
      await shared.dispose();
      await store.close();
      throw err;
    }
  }
  const rtmpPort = config.rtmp.port || (await freePort(config.rtmp.host === '0.0.0.0' ? '127.0.0.1' : config.rtmp.host));

  const media = createMediaServer({ port: rtmpPort, host: config.rtmp.host, publishSecret: config.rtmp.publishSecret });
  const plugin = register(media.nms, { rtmpPort, pipeline, onEvent, ids, playSecret: config.rtmp.publishSecret, shared, onItem, onSnapshot, visitors });
  const server = await media.run();

  const pulled = new Map<string, RunningStream>();
  const pull = (s: SourceConfig, pipeline: PipelineConfig) =>
    pulled.set(s.name, startStream({
      name: s.name, uri: s.url, pipeline, restartOnStall: true, onEvent, ids, shared, ...taps(s.name),
      ...(s.realtime ? { realtime: true, live: true, endOnEof: true } : {}),
    }));
  // several nodes (the Redis bus): the cluster's sources in Redis, each pulled by the one node
  // that holds its lease (src/cluster/leases.ts); one node alone pulls its own
  let leases: SourceLeases | undefined;
  if (config.bus.kind === 'redis') {
    leases = startLeases({
      url: config.bus.url, nodeId, capacity: config.node.capacity,
      start: (_name, doc) => {
        const s = sourceSchema.parse(doc);
        pull(s, loadPipeline(s.pipeline ?? config.pipeline));
      },
      stop: async (name) => {
        const s = pulled.get(name);
        pulled.delete(name);
        await s?.stop();
      },
    });
    // written to the cluster's list at the first round that reaches Redis (now, or once it is back)
    for (const s of initialSources) leases.seed(s.name, s);
  } else {
    initialSources.forEach((s, i) => pull(s, sourcePipelines[i]!));
  }

  const info = (s: RunningStream, kind: StreamInfo['kind']): StreamInfo & { owner: string } => ({
    name: s.name, uri: s.uri, kind, state: s.state, ...(s.reason ? { reason: s.reason } : {}), pipeline: s.pipeline, frames: s.stats.frames,
    dropped: s.stats.dropped, restarts: s.stats.restarts, startedAt: s.startedAt, firstFrameLatencyMs: s.stats.firstFrameLatencyMs,
    owner: nodeId, stageMs: { ...s.stats.stageMs },
  });
  const localStreams = () => [
    ...[...plugin.streams.values()].map((s) => info(s, 'published')),
    ...[...pulled.values()].map((s) => info(s, 'pulled')),
  ];
  mqtt = config.mqtt.url
    ? startMqtt({ ...config.mqtt, url: config.mqtt.url, password: config.mqtt.password ?? process.env.FACESTREAM_MQTT_PASSWORD, clientId: `facestream-${nodeId}` })
    : undefined;
  bus = config.bus.kind === 'redis'
    ? startRedisBus({ url: config.bus.url, nodeId, maxLen: config.bus.maxLen, localStreams })
    : undefined;
  const streams = (): StreamInfo[] => [...localStreams(), ...((bus?.remoteStreams() ?? []) as unknown as StreamInfo[])];
  const running = () => [...plugin.streams.values(), ...pulled.values()];
  // an ended or failed source stays listed (with its reason) until deleted, but says nothing more
  const active = () => running().filter((s) => s.state !== 'ended' && s.state !== 'error');
  const events = (stream?: string) => [...recent.values()].filter((e) => !stream || e.stream === stream);
  // a reconnecting client's missed events: from Redis (every node's) and this node's buffer
  // (what is not yet appended to Redis), one copy of each, in order per stream
  const replay: ReplaySource = async (streams, after, since, limit) => {
    const local = recent.resume(streams, after, since, limit);
    if (!bus) return local;
    const remote = await bus.replay(streams, after, since, limit).catch(() => undefined);
    if (!remote) return local;
    const seen = new Set(remote.events.map((e) => `${e.stream} ${e.id}`));
    const merged = [...remote.events, ...local.events.filter((e) => !seen.has(`${e.stream} ${e.id}`))];
    merged.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : compareEventIds(a.id, b.id)));
    // Redis keeps more than the buffer: its word on what is lost stands
    const gaps = remote.gaps;
    return { events: merged.slice(0, limit), gaps: merged.length > limit ? [...new Set([...gaps, ...merged.slice(limit).map((e) => e.stream)])] : gaps };
  };
  const metrics = createMetrics({
    streams: () => active().map((s) => ({ name: s.name, ...s.stats })),
    socket: () => socket?.stats ?? { clients: 0, dropped: 0, invalid: 0, refused: 0, sent: 0 },
    store: () => store.unsaved,
    bus: bus ? () => bus?.stats : undefined,
    mqtt: mqtt ? () => mqtt.stats : undefined,
    alerts: () => ({ raised: alerts.counts, active: alerts.active().length }),
    tensors: () => tf.memory().numTensors,
    engine: { info: engine, stats: (await onnxEngine())?.stats },
  });
  let httpServer: RunningHttpServer;
  let lastCpu: { at: number; cpu: NodeJS.CpuUsage } | undefined;
  try {
    httpServer = await startHttpServer({
      host: config.http.host, port: config.http.port, token: config.http.token, cors: config.http.cors, streams,
      events: (q) => recent.query(q),
      stats: (q) => store.stats(q),
      heatmap: async (q) => heatmap(await store.hourly(q), q.tzOffsetMin),
      tracks: config.storage.demographicsOnly ? undefined : {
        list: (q) => store.tracks(q),
        snapshot: (stream, id) => store.snapshot(stream, id),
        remove: (stream, id) => store.deleteTrack(stream, id),
      },
      metrics: () => metrics.text(),
      info: () => {
        const now = Date.now(), cpu = process.cpuUsage();
        const cpuPercent = lastCpu ? (100 * ((cpu.user + cpu.system) - (lastCpu.cpu.user + lastCpu.cpu.system)) / 1000) / Math.max(1, now - lastCpu.at) : null;
        lastCpu = { at: now, cpu };
        return {
          version: PACKAGE_VERSION, node: nodeId, rtmp: { port: rtmpPort }, backend: tf.getBackend(), engine: engine.detail, rssBytes: process.memoryUsage().rss, cpuPercent,
          // what the dashboard may show: the live view, the tracks' review, their thumbnails
          features: { video: config.dashboard.video, tracks: !config.storage.demographicsOnly, snapshots: config.storage.snapshots },
        };
      },
      sources: leases ? clusterSources(leases, config, streams) : {
        list: () => localStreams().filter((s) => s.kind === 'pulled').map((s) => ({ name: s.name, uri: s.uri, pipeline: s.pipeline, owner: nodeId, state: s.state, ...(s.reason ? { reason: s.reason } : {}) })),
        add: async (body) => {
          const s = checkHttpSource(body, config);
          if (pulled.has(s.name)) throw new HttpError(409, `a source named "${s.name}" exists; DELETE it first`, 'FS_ERR_SOURCE_EXISTS');
          if (pulled.size >= config.maxSources) throw new HttpError(429, `${pulled.size} sources already, the most this node takes (maxSources)`, 'FS_ERR_SOURCE_LIMIT');
          const p = loadPipeline(s.pipeline ?? config.pipeline);
          try {
            await store.saveSource(s);
          } catch (err) {
            throw new HttpError(503, `the source could not be stored: ${(err as Error).message}`, 'FS_ERR_STORAGE');
          }
          pull(s, p);
          return info(pulled.get(s.name)!, 'pulled');
        },
        remove: async (name) => {
          const s = pulled.get(name);
          if (!s) return false;
          pulled.delete(name);
          await Promise.resolve(store.removeSource(name)).catch((err: Error) => log.error(`source ${name} could not be removed from storage: ${err.message}`));
          await s.stop();
          return true;
        },
      },
    });
    socket = attachSocket(httpServer.server, { token: config.http.token, cors: config.http.cors, adapter: bus?.adapter(), canForward: () => bus?.stats.connected ?? false, replay, video: config.dashboard.video });
  } catch (err) {
    await leases?.release();
    await server.stop();
    await bus?.close();
    await mqtt?.close();
    await store.close();
    await shared.dispose();
    throw err;
  }
  log.info(`RTMP on ${config.rtmp.host}:${rtmpPort}, HTTP on http://${config.http.host}:${httpServer.port}/`);

  const statsTimer = setInterval(() => void (async () => {
    void store.retry(); // tracks that waited for a writable database
    for (const s of active()) {
      let rows: Awaited<ReturnType<typeof store.stats>> = [];
      try { rows = await store.stats({ stream: s.name, from: Math.floor(s.startedAt / 60_000) * 60_000, bucketMs: 3_650 * 86_400_000 }); } catch { /* database away: the counts say 0 this time */ }
      const r = rows[0];
      const ts = Date.now();
      onEvent({
        id: ids.next(s.name, ts), v: EVENT_SCHEMA_VERSION, type: 'stats', stream: s.name, ts, since: s.startedAt,
        people: r?.people ?? 0, visitors: r?.visitors ?? 0, male: r?.male ?? 0, female: r?.female ?? 0, ageGroups: r?.ageGroups ?? {},
        smilingShare: r?.smilingShare ?? null, meanDwellMs: r?.meanDwellMs ?? null, inView: open.get(s.name) ?? 0,
      });
    }
  })(), config.storage.statsIntervalMs);
  statsTimer.unref();
  const alertTimer = setInterval(() => alerts.tick(active().map((s) => ({ name: s.name, state: s.state, frames: s.stats.frames, dropped: s.stats.dropped }))), 1000);
  alertTimer.unref();

  let stopping: Promise<void> | undefined;
  return {
    rtmpPort, httpPort: httpServer.port, socket: socket!, plugin, pulled, events, buffer: recent, streams, nodeId, bus,
    stop: () => (stopping ??= (async () => {
      clearInterval(statsTimer);
      clearInterval(alertTimer);
      await leases?.release(); // its sources handed over to the other nodes first
      await plugin.stopAll();
      await Promise.all([...pulled.values()].map((s) => s.stop()));
      await socket!.close();
      await httpServer.close();
      await server.stop();
      await bus?.close(); // after the streams ended: their last events are appended first
      await mqtt?.close();
      await store.close();
      clearInterval(visitorsTimer);
      await visitors?.close(); // the embeddings go with the process's memory, nowhere else; the recognizer is freed
      await shared.dispose(); // models, batchers and detector worker threads
    })()),
  };
}

/** /api/sources over the cluster's sources (the Redis bus): any node adds, removes and lists them. */
function clusterSources(leases: SourceLeases, config: AppConfig, streams: () => StreamInfo[]) {
  return {
    list: async () => {
      const known = new Map(streams().map((s) => [s.name, s]));
      return (await leases.list()).map(({ name, config: doc, owner }) => {
        const s = known.get(name);
        const d = (doc ?? {}) as { url?: string; pipeline?: string };
        return { name, uri: redact(String(d.url ?? '')), pipeline: d.pipeline ?? config.pipeline, owner, state: s?.state ?? (owner ? 'starting' : 'waiting for a node'), ...(s?.reason ? { reason: s.reason } : {}) };
      });
    },
    add: async (body: unknown): Promise<StreamInfo> => {
      const s = checkHttpSource(body, config);
      const all = await leases.list();
      if (all.some((x) => x.name === s.name)) throw new HttpError(409, `a source named "${s.name}" exists; DELETE it first`, 'FS_ERR_SOURCE_EXISTS');
      if (all.length >= config.maxSources) throw new HttpError(429, `${all.length} sources already, the most this cluster takes (maxSources)`, 'FS_ERR_SOURCE_LIMIT');
      loadPipeline(s.pipeline ?? config.pipeline);
      try {
        await leases.add(s.name, s);
      } catch (err) {
        throw new HttpError(503, `the source could not be stored in Redis: ${(err as Error).message}`, 'FS_ERR_STORAGE');
      }
      return { name: s.name, uri: redact(s.url), kind: 'pulled', state: 'starting', pipeline: s.pipeline ?? config.pipeline, frames: 0, dropped: 0, restarts: 0, startedAt: Date.now() };
    },
    remove: (name: string) => leases.remove(name),
  };
}

/** Schemes a camera added over HTTP may use; local files only with `http.fileSources`. */
const REMOTE_SCHEMES = new Set(['rtsp:', 'rtsps:', 'rtmp:', 'rtmps:', 'srt:', 'http:', 'https:']);

/**
 * A source as POST /api/sources may give it: a known name pattern, a network URL of an
 * allowed scheme (or a local file where the operator allowed it), and a pipeline by name
 * from the pipelines folder, never a path.
 */
export function checkHttpSource(body: unknown, config: AppConfig): SourceConfig {
  const r = sourceSchema.safeParse(body);
  if (!r.success) throw new HttpError(400, redact(formatIssues(r.error.issues)), 'FS_ERR_SOURCE');
  const s = r.data;
  if (s.pipeline != null && !/^[A-Za-z0-9_-]{1,64}$/.test(s.pipeline)) {
    throw new HttpError(400, 'pipeline: the name of a pipeline in the pipelines folder (letters, digits, _ and -), not a path', 'FS_ERR_SOURCE');
  }
  if (s.pipeline != null) {
    try { loadPipeline(s.pipeline); } catch (err) { throw new HttpError(400, (err as Error).message.replace(/ \(\/[^)]*\)/, ''), 'FS_ERR_SOURCE'); }
  }
  let url: URL | undefined;
  try { url = new URL(s.url); } catch { url = undefined; }
  const isFile = !url || url.protocol === 'file:' || /^[a-z]:[\\/]/i.test(s.url);
  if (isFile) {
    if (!config.http.fileSources) throw new HttpError(400, 'url: local files can only be named in the config file (or with http.fileSources: true); use rtsp://, rtsps://, rtmp://, rtmps://, srt:// or http(s)://', 'FS_ERR_SOURCE');
  } else if (!REMOTE_SCHEMES.has(url!.protocol)) {
    throw new HttpError(400, `url: the scheme ${url!.protocol.slice(0, 20)}// is not allowed; use rtsp, rtsps, rtmp, rtmps, srt or http(s)`, 'FS_ERR_SOURCE');
  } else if (!url!.hostname) {
    throw new HttpError(400, 'url: no host', 'FS_ERR_SOURCE');
  }
  if (s.realtime && !isFile) throw new HttpError(400, 'realtime: only for files', 'FS_ERR_SOURCE');
  return s;
}
