/**
 * facestream as a node-media-server plugin. The only code that imports node-media-server.
 *
 * On `postPublish` it starts one pipeline per stream path, reading the stream back from
 * the server's own RTMP port on 127.0.0.1. The stream is analysed for as long as its
 * publisher is connected: a decoder that fails or stalls (a first keyframe 10 s late, a
 * cold start slower than the stall timeout) is restarted with backoff, never given up. It
 * stops that pipeline as soon as the publisher leaves (node-media-server 4 only says
 * `donePublish` after a 30 s grace, so the plugin watches the publisher session itself) or
 * on `donePublish`. Idempotent per stream path; never throws into the server's handlers.
 *
 * @example
 *   const nms = new NodeMediaServer({ rtmp: { port: 1935 } });
 *   const plugin = register(nms, { rtmpPort: 1935, pipeline: loadPipeline('default'), onEvent: console.log });
 *   await nms.run();
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type NodeMediaServer from 'node-media-server';
import type { NmsSession } from 'node-media-server';
import { FacestreamError, errorMessage } from '../../src/errors.ts';
import type { FacestreamEvent } from '../../src/events/types.ts';
import type { EventIds } from '../../src/events/ids.ts';
import { createLogger } from '../../src/log.ts';
import { startStream, type RunningStream } from '../../src/runner/run.ts';
import type { PipelineConfig } from '../../src/pipeline/schema.ts';
import type { AnalysedFrame } from '../../src/pipeline/types.ts';
import type { SharedResources } from '../../src/pipeline/shared.ts';
import type { VisitorService } from '../../src/models/faces/recognizer.ts';

export const SUPPORTED_NMS = '>=4.0.0 <5.0.0';
const log = createLogger('nms-plugin');
const require = createRequire(import.meta.url);

export interface PluginOptions {
  /** The server's RTMP port, read back on 127.0.0.1. */
  rtmpPort: number;
  /** The pipeline for a published stream; a function can choose by stream path. */
  pipeline: PipelineConfig | ((streamPath: string) => PipelineConfig);
  onEvent: (e: FacestreamEvent) => void;
  /** The node's event ids (facestream start passes its own); default one sequence per stream. */
  ids?: EventIds;
  /** How often the publisher session is checked for a disconnect. Default 250 ms. */
  pollMs?: number;
  /**
   * A publisher that sends nothing for this long has vanished (a frozen encoder, a cable
   * pulled: its TCP connection may stay open for hours, and node-media-server has no read
   * timeout): its session is closed and its analysis ends. Default 15 s.
   */
  publisherIdleMs?: number;
  /** node-media-server's version, when the instance is not the one this package resolves. */
  nmsVersion?: string;
  /** The server's auth secret when playing needs a signed URL: the plugin signs its own decoder's URL. */
  playSecret?: string;
  /** Models, batchers and detector workers shared with the app's other streams (default: each stream its own). */
  shared?: SharedResources;
  /** Receives each analysed frame of a stream (the app's live view). */
  onItem?: (stream: string, item: AnalysedFrame) => void;
  /** Receives each ended track's thumbnail (`storage.snapshots`); without it none is made. */
  onSnapshot?: (stream: string, trackEndedId: string, jpeg: Buffer) => void;
  /** Unique visitors (`reid`): the node's service, shared with its other streams. */
  visitors?: VisitorService;
}

export interface FacestreamPlugin {
  readonly streams: ReadonlyMap<string, RunningStream>;
  stop(streamPath: string): Promise<void>;
  stopAll(): Promise<void>;
}

/**
 * node-media-server's signed URL: `?sign=EXPIRES-md5(/app/name-EXPIRES-secret)`, the same
 * for publishing and playing. An encoder given the secret signs the same way.
 */
export function signUrl(url: string, secret: string, ttlSeconds = 24 * 3600): string {
  const u = new URL(url);
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const hash = crypto.createHash('md5').update(`${u.pathname}-${exp}-${secret}`).digest('hex');
  u.searchParams.set('sign', `${exp}-${hash}`);
  return u.toString();
}

export function nmsVersion(): string {
  const pkgPath = require.resolve('node-media-server/package.json');
  return (JSON.parse(fs.readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

export function checkVersion(version: string): void {
  const major = Number(/^(\d+)\./.exec(version)?.[1]);
  if (major !== 4) {
    throw new FacestreamError(
      'FS_ERR_PLUGIN_VERSION',
      `node-media-server ${version} is not supported: facestream's plugin needs ${SUPPORTED_NMS} (events with one session object); install node-media-server@4`,
    );
  }
}

export function register(nms: NodeMediaServer, options: PluginOptions): FacestreamPlugin {
  checkVersion(options.nmsVersion ?? nmsVersion());
  const streams = new Map<string, RunningStream>();
  const watchers = new Map<string, NodeJS.Timeout>();
  const pickPipeline = (p: string) => (typeof options.pipeline === 'function' ? options.pipeline(p) : options.pipeline);

  const stop = async (streamPath: string) => {
    const s = streams.get(streamPath);
    clearInterval(watchers.get(streamPath));
    watchers.delete(streamPath);
    if (!s) return;
    streams.delete(streamPath);
    await s.stop();
  };

  const onPublish = (session: NmsSession) => {
    const streamPath = session?.streamPath;
    if (!streamPath || streams.has(streamPath)) return; // duplicates and resumed publishers
    const name = streamPath.replace(/^\//, '');
    const uri = `rtmp://127.0.0.1:${options.rtmpPort}${streamPath}`;
    log.info(`publish ${streamPath}: starting pipeline`, { uri });
    const secret = options.playSecret;
    const stream = startStream({
      name, uri, pipeline: pickPipeline(streamPath), live: true,
      // the publisher's presence decides when the analysis ends (the watcher below), not the decoder
      restartOnStall: true, endOnEof: false, maxRestarts: Infinity,
      // signed afresh at every decoder start, so a restart after days still plays
      resolveUri: secret ? () => signUrl(uri, secret, 3600) : undefined,
      onEvent: options.onEvent,
      ids: options.ids,
      shared: options.shared,
      ...(options.onItem ? { onItem: (item: AnalysedFrame) => options.onItem!(name, item) } : {}),
      ...(options.onSnapshot ? { onSnapshot: (id: string, jpeg: Buffer) => options.onSnapshot!(name, id, jpeg) } : {}),
      ...(options.visitors ? { visitors: options.visitors } : {}),
    });
    streams.set(streamPath, stream);
    void stream.done.then(() => {
      if (streams.get(streamPath) === stream) {
        streams.delete(streamPath);
        clearInterval(watchers.get(streamPath));
        watchers.delete(streamPath);
      }
    });
    const idleMs = options.publisherIdleMs ?? 15_000;
    let lastBytes = session.inBytes ?? 0;
    let lastChange = Date.now();
    watchers.set(streamPath, setInterval(() => {
      if (session.endTime) {
        log.info(`publisher of ${streamPath} left: stopping pipeline`);
        void stop(streamPath);
        return;
      }
      const bytes = session.inBytes ?? 0;
      if (bytes !== lastBytes) { lastBytes = bytes; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > idleMs) {
        log.warn(`publisher of ${streamPath} sent nothing for ${idleMs} ms: closing it and stopping the pipeline`);
        try { session.close?.(); } catch { /* already closing */ }
        void stop(streamPath);
      }
    }, options.pollMs ?? 250));
  };

  const guard = (what: string, fn: (s: NmsSession) => void | Promise<void>) => (session: NmsSession) => {
    try {
      const r = fn(session);
      if (r && typeof (r as Promise<void>).catch === 'function') {
        (r as Promise<void>).catch((err) => log.error(`${what} ${session?.streamPath}: ${errorMessage(err)}`));
      }
    } catch (err) {
      log.error(`${what} ${session?.streamPath}: ${errorMessage(err)}`);
    }
  };
  nms.on('postPublish', guard('postPublish', onPublish));
  nms.on('donePublish', guard('donePublish', (s) => stop(s.streamPath)));

  return {
    streams,
    stop,
    stopAll: async () => { await Promise.all([...streams.keys()].map(stop)); },
  };
}

/**
 * Routes node-media-server's console logging (stdout, debug level by default) to
 * facestream's log on stderr. Call before constructing the server.
 */
export function quietNmsLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'warn'): void {
  const nmsRoot = path.dirname(require.resolve('node-media-server/package.json'));
  const logger = require(path.join(nmsRoot, 'src/core/logger.js')) as {
    level: string; levels: string[]; log: (m: string, l?: string) => void;
  };
  const nmsLog = createLogger('nms');
  // The server's constructor resets its level to debug, so the threshold is kept here.
  logger.log = (message: string, lvl = 'info') => {
    if (logger.levels.indexOf(lvl) < logger.levels.indexOf(level)) return;
    const fn = lvl === 'error' ? nmsLog.error : lvl === 'warn' ? nmsLog.warn : nmsLog.debug;
    fn(message);
  };
}
