/**
 * The application config (`facestream start --config FILE`): ports, the pipeline for
 * published streams, and cameras to pull. Strict: an unknown key fails at load, naming
 * the key and the file.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { FacestreamError } from './errors.ts';
import { alertRuleSchema } from './events/alerts.ts';
import { formatIssues } from './pipeline/schema.ts';

const port = z.number().int().min(0).max(65535);

export const SOURCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const sourceSchema = z.strictObject({
  name: z.string().regex(SOURCE_NAME, 'letters, digits, _ and - only (1 to 64)').describe('The stream\'s name in events, REST and metrics.'),
  url: z.string().min(1).max(2048).describe('rtsp://, rtsps://, rtmp://, rtmps://, srt://, http(s):// (HLS); in the config file also a local file.'),
  pipeline: z.string().max(256).optional().describe('In the config file: a pipeline name or a YAML file. Over HTTP: a name from the pipelines folder only.'),
  realtime: z.boolean().optional().describe('A file played as a camera would send it (its own frame rate; ends with the file): demos, tests.'),
});
export type SourceConfig = z.infer<typeof sourceSchema>;

export const appConfigSchema = z.strictObject({
  rtmp: z.strictObject({
    port: port.default(1935).describe('RTMP port publishers connect to (0: a free one).'),
    host: z.string().default('0.0.0.0').describe('Interface RTMP listens on (cameras and encoders publish from other machines).'),
    publishSecret: z.string().min(8, 'use at least 8 characters').optional().describe('Switches node-media-server\'s publish authentication on: publishers must sign their URL.'),
  }).prefault({}),
  http: z.strictObject({
    port: port.default(8080).describe('HTTP port of the dashboard, REST, socket.io and /metrics (0: a free one).'),
    host: z.string().default('127.0.0.1').describe('Loopback by default: listening on other interfaces needs a token or `anonymous: true`.'),
    token: z.string().min(8, 'use at least 8 characters').optional().describe('Required by socket.io and /api/* when set (or FACESTREAM_TOKEN).'),
    anonymous: z.boolean().default(false).describe('Serve a non-loopback interface without a token (anyone who reaches the port may add cameras and watch).'),
    cors: z.union([z.literal('*'), z.array(z.string())]).optional().describe('Origins whose pages may use socket.io and /api/* from a browser (CORS headers); \'*\' for any.'),
    fileSources: z.boolean().default(false).describe('Whether POST /api/sources may name local files (file paths, file://); by default only the config file may.'),
  }).prefault({}),
  maxSources: z.number().int().min(1).max(10_000).default(64).describe('Pulled sources at most, from the config and added over HTTP together.'),
  storage: z.strictObject({
    kind: z.enum(['sqlite', 'postgres']).default('sqlite').describe('sqlite: this node\'s file; postgres: one database shared by every node (`url`).'),
    file: z.string().optional().describe('SQLite file of the aggregates; default $XDG_DATA_HOME/facestream/facestream.db.'),
    url: z.string().optional().describe('postgres: a connection string, postgres://USER:PASSWORD@HOST:PORT/DB.'),
    retentionDays: z.number().int().min(1).max(3650).default(90).describe('Rows older than this are deleted (checked hourly).'),
    demographicsOnly: z.boolean().default(false).describe('Emit and store only aggregates: no per-track events or rows.'),
    snapshots: z.boolean().default(false).describe('Keep each track\'s best-quality face as a small JPEG thumbnail with its row (same retention; deleted with it), shown on the dashboard\'s tiles and review. Off by default: no face image is kept.'),
    minGrade: z.enum(['S', 'A', 'B', 'C', 'D']).default('B').describe('A track\'s gender, age class or smile counts in the aggregates only when its SA grade is this or better (S best, D worst); the person always counts in `people`.'),
    statsIntervalMs: z.number().int().min(1000).max(3_600_000).default(10_000).describe('Period of the per-stream `stats` event.'),
  }).prefault({}),
  dashboard: z.strictObject({
    video: z.boolean().default(false).describe('The live view: the analysed frames as JPEG with each face\'s box, track and answers, sent over socket.io to dashboards that watch a stream (token required where set). Off by default: no picture leaves the process.'),
    videoFps: z.number().int().min(1).max(15).default(5).describe('Frames a second sent to the live view at most (each one is encoded only while someone watches).'),
    videoWidth: z.number().int().min(160).max(1920).default(640).describe('Width of the live view\'s frames in pixels (scaled down from the analysed frame, never up).'),
  }).prefault({}),
  reid: z.strictObject({
    enabled: z.boolean().default(true).describe('Count unique visitors: a person who leaves and comes back within windowMinutes is one visitor (track.ended `visitor`, `visitors` in the aggregates). The face embeddings stay in memory, expire with the window and are never stored, logged or sent.'),
    windowMinutes: z.number().min(1).max(1440).default(30).describe('How long a visitor is remembered after their last visit.'),
    maxDistance: z.number().min(0.1).max(1.5).default(0.3).describe('Largest embedding distance (face-api\'s recognition net, Euclidean) at which two visits are one person; smaller merges fewer different people.'),
  }).prefault({}).describe('Unique visitors across the streams of this node.'),
  events: z.strictObject({
    buffer: z.number().int().min(100).max(1_000_000).default(10_000).describe('Recent events kept in memory: GET /api/events pages through them and a reconnecting client is sent what it missed (with the Redis bus, from Redis too).'),
  }).prefault({}),
  node: z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only (at most 64)').optional().describe('This node\'s id among several (default: host name and process id).'),
    capacity: z.number().positive().max(1000).default(1).describe('With the Redis bus: this node\'s weight in the split of the pulled sources (2 takes twice the share of 1).'),
  }).prefault({}).describe('This node among several.'),
  bus: z.strictObject({
    kind: z.enum(['memory', 'redis']).default('memory').describe('memory: one node; redis: events to Redis Streams, socket.io across nodes, the node registry.'),
    url: z.string().default('redis://127.0.0.1:6379').describe('The Redis server of the bus.'),
    maxLen: z.number().int().min(100).max(100_000_000).default(100_000).describe('Entries kept per camera stream key (approximately).'),
  }).prefault({}),
  alerts: z.array(z.lazy(() => alertRuleSchema)).max(100).default([]).describe('Alert rules: `{name, when: inView | dwellMs | stalled | dropRate, above, streams?}`; raised and cleared as `alert` events, shown on the dashboard, counted in /metrics.'),
  mqtt: z.strictObject({
    url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'mqtt://, mqtts://, ws:// or wss://').optional().describe('An MQTT broker to publish every event to (off when unset), e.g. mqtt://127.0.0.1:1883.'),
    topicPrefix: z.string().regex(/^[^+#\u0000]{1,128}$/, 'no + or # (MQTT wildcards)').default('facestream').describe('Events go to PREFIX/STREAM/events, the retained state to PREFIX/STREAM/state.'),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1).describe('QoS of the events (1: at least once).'),
    maxQueued: z.number().int().min(10).max(1_000_000).default(10_000).describe('Events kept while the broker is away; beyond, the oldest are dropped and counted.'),
    username: z.string().optional().describe('Broker user (or in the URL).'),
    password: z.string().optional().describe('Broker password (or FACESTREAM_MQTT_PASSWORD).'),
  }).prefault({}),
  pipeline: z.string().default('default').describe('Pipeline name (pipelines/NAME.yaml) or file for streams published to the server.'),
  sources: z.array(z.lazy(() => sourceSchema)).default([]).describe('Cameras that cannot push (most IP cameras speak RTSP): pulled from start.'),
});
export type AppConfig = z.infer<typeof appConfigSchema>;

export function parseAppConfig(doc: unknown, where: string): AppConfig {
  const r = appConfigSchema.safeParse(doc ?? {});
  if (!r.success) throw new FacestreamError('FS_ERR_CONFIG', `${where}: ${formatIssues(r.error.issues)}`);
  const names = new Set<string>();
  for (const s of r.data.sources) {
    if (names.has(s.name)) throw new FacestreamError('FS_ERR_CONFIG', `${where}: sources: the name "${s.name}" is used twice`);
    names.add(s.name);
  }
  if (r.data.storage.kind === 'postgres' && !r.data.storage.url) throw new FacestreamError('FS_ERR_CONFIG', `${where}: storage.url is required with storage.kind postgres`);
  if (r.data.storage.snapshots && r.data.storage.demographicsOnly) throw new FacestreamError('FS_ERR_CONFIG', `${where}: storage.snapshots needs the per-track rows that storage.demographicsOnly turns off; set one of them`);
  if (r.data.sources.length > r.data.maxSources) throw new FacestreamError('FS_ERR_CONFIG', `${where}: ${r.data.sources.length} sources, more than maxSources (${r.data.maxSources})`);
  if (!r.data.http.token && process.env.FACESTREAM_TOKEN) r.data.http.token = process.env.FACESTREAM_TOKEN;
  checkExposure(r.data, where);
  return r.data;
}

/** Whether a listen address reaches only this machine. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * A server reachable from other machines without a token would let anyone add cameras,
 * read events and watch: refused unless the operator says so.
 */
export function checkExposure(config: AppConfig, where = '(config)'): void {
  if (isLoopback(config.http.host) || config.http.token || config.http.anonymous) return;
  throw new FacestreamError('FS_ERR_CONFIG', `${where}: http.host ${config.http.host} is reachable from other machines but no http.token (or FACESTREAM_TOKEN) is set; ` +
    'set a token, listen on 127.0.0.1, or set http.anonymous: true to serve without one');
}

export function loadAppConfig(file?: string): AppConfig {
  if (!file) return parseAppConfig({}, '(defaults)');
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FacestreamError('FS_ERR_CONFIG', `${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseAppConfig(doc, file);
}
