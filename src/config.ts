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

export const sourceSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only (at most 64)'),
  url: z.string().min(1),
  pipeline: z.string().optional(),
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
    host: z.string().default('0.0.0.0'),
    /** Required by socket.io and /api/* when set (or FACESTREAM_TOKEN). */
    token: z.string().min(8, 'use at least 8 characters').optional(),
    /** Origins allowed to use socket.io from a browser on another origin; '*' for any. */
    cors: z.union([z.literal('*'), z.array(z.string())]).optional(),
  }).prefault({}),
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
  if (!r.data.http.token && process.env.FACESTREAM_TOKEN) r.data.http.token = process.env.FACESTREAM_TOKEN;
  return r.data;
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
