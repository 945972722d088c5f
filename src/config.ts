/**
 * The application config (`facestream start --config FILE`): ports, the pipeline for
 * published streams, and cameras to pull. Strict: an unknown key fails at load, naming
 * the key and the file.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { FacestreamError } from './errors.ts';
import { formatIssues } from './pipeline/schema.ts';

const port = z.number().int().min(0).max(65535);

export const SOURCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const sourceSchema = z.strictObject({
  name: z.string().regex(SOURCE_NAME, 'letters, digits, _ and - only (1 to 64)'),
  url: z.string().min(1).max(2048),
  /** In the config file: a pipeline name or a YAML file. Over HTTP: a name from the pipelines folder only. */
  pipeline: z.string().max(256).optional(),
  /** A file played as a camera would send it (its own frame rate; ends with the file): demos, tests. */
  realtime: z.boolean().optional(),
});
export type SourceConfig = z.infer<typeof sourceSchema>;

export const appConfigSchema = z.strictObject({
  rtmp: z.strictObject({
    port: port.default(1935),
    host: z.string().default('0.0.0.0'),
    /** Switches node-media-server's publish authentication on: publishers must sign their URL. */
    publishSecret: z.string().min(8, 'use at least 8 characters').optional(),
  }).prefault({}),
  http: z.strictObject({
    port: port.default(8080),
    /** Loopback by default: listening on other interfaces needs a token or `anonymous: true`. */
    host: z.string().default('127.0.0.1'),
    /** Required by socket.io and /api/* when set (or FACESTREAM_TOKEN). */
    token: z.string().min(8, 'use at least 8 characters').optional(),
    /** Serve a non-loopback interface without a token (anyone who reaches the port may add cameras and watch). */
    anonymous: z.boolean().default(false),
    /** Origins allowed to use socket.io from a browser on another origin; '*' for any. */
    cors: z.union([z.literal('*'), z.array(z.string())]).optional(),
    /** Whether POST /api/sources may name local files (file paths, file://); by default only the config file may. */
    fileSources: z.boolean().default(false),
  }).prefault({}),
  /** Pulled sources at most, from the config and added over HTTP together. */
  maxSources: z.number().int().min(1).max(10_000).default(64),
  storage: z.strictObject({
    /** sqlite: this node's file; postgres: one database shared by every node (`url`). */
    kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /** SQLite file of the aggregates; default $XDG_DATA_HOME/facestream/facestream.db. */
    file: z.string().optional(),
    /** postgres: a connection string, postgres://USER:PASSWORD@HOST:PORT/DB. */
    url: z.string().optional(),
    retentionDays: z.number().int().min(1).max(3650).default(90),
    /** Emit and store only aggregates: no per-track events or rows. */
    demographicsOnly: z.boolean().default(false),
    /**
     * A track's gender, age class or smile counts in the aggregates only when its SA grade
     * is this or better (S best, D worst); the person always counts in `people`.
     */
    minGrade: z.enum(['S', 'A', 'B', 'C', 'D']).default('B'),
    /** Period of the per-stream `stats` event. */
    statsIntervalMs: z.number().int().min(1000).max(3_600_000).default(10_000),
  }).prefault({}),
  /** This node's id among several (default: host name and process id). */
  node: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only (at most 64)').optional() }).prefault({}),
  /** memory: one node; redis: events to Redis Streams, socket.io across nodes, the node registry. */
  bus: z.strictObject({
    kind: z.enum(['memory', 'redis']).default('memory'),
    url: z.string().default('redis://127.0.0.1:6379'),
    /** Entries kept per camera stream key (approximately). */
    maxLen: z.number().int().min(100).max(100_000_000).default(100_000),
  }).prefault({}),
  /** Pipeline name (pipelines/NAME.yaml) or file for streams published to the server. */
  pipeline: z.string().default('default'),
  /** Cameras that cannot push (most IP cameras speak RTSP): pulled from start. */
  sources: z.array(z.lazy(() => sourceSchema)).default([]),
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
