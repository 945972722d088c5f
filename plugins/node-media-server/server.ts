/**
 * A node-media-server 4 instance set up for facestream: RTMP only, its store in a
 * temporary folder, its logging on facestream's log, and its signal handlers removed so
 * that facestream's own graceful shutdown decides when the process exits (the server's
 * store re-raises SIGINT/SIGTERM, which would kill the process mid-shutdown).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import NodeMediaServer from 'node-media-server';
import { quietNmsLogger } from './index.ts';

export interface MediaServer { nms: NodeMediaServer; port: number; stop(): Promise<void> }

function waitForPort(port: number, host: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, host === '0.0.0.0' ? '127.0.0.1' : host);
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > until) reject(new Error(`RTMP server did not listen on ${host}:${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Creates the server; call `run` after registering the plugin. */
/**
 * node-media-server's signed publish URL: `?sign=EXPIRES-md5(/app/name-EXPIRES-secret)`.
 * An encoder given the secret signs the same way.
 */
export function signPublishUrl(url: string, secret: string, ttlSeconds = 24 * 3600): string {
  const u = new URL(url);
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const hash = crypto.createHash('md5').update(`${u.pathname}-${exp}-${secret}`).digest('hex');
  u.searchParams.set('sign', `${exp}-${hash}`);
  return u.toString();
}

export function createMediaServer(opts: { port: number; host: string; publishSecret?: string }): { nms: NodeMediaServer; run(): Promise<MediaServer> } {
  quietNmsLogger(process.env.FACESTREAM_LOG === 'debug' ? 'debug' : 'warn');
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-nms-'));
  const nms = new NodeMediaServer({
    bind: opts.host, rtmp: { port: opts.port }, store: { path: store }, webadmin: { enable: false },
    ...(opts.publishSecret ? { auth: { publish: true, play: false, secret: opts.publishSecret } } : {}),
  });
  return {
    nms,
    run: async () => {
      await nms.run();
      const s = (nms as unknown as { store?: { _onSignal?: (...a: unknown[]) => void } }).store;
      if (s?._onSignal) {
        process.removeListener('SIGINT', s._onSignal);
        process.removeListener('SIGTERM', s._onSignal);
      }
      await waitForPort(opts.port, opts.host);
      return {
        nms, port: opts.port,
        stop: async () => {
          await nms.stop();
          fs.rmSync(store, { recursive: true, force: true });
        },
      };
    },
  };
}
