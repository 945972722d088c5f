/**
 * A node-media-server 4 instance set up for facestream: RTMP only, its store in a
 * temporary folder, its logging on facestream's log, and its signal handlers removed so
 * that facestream's own graceful shutdown decides when the process exits (the server's
 * store re-raises SIGINT/SIGTERM, which would kill the process mid-shutdown).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import NodeMediaServer from 'node-media-server';
import { quietNmsLogger, signUrl } from './index.ts';

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

/** node-media-server's signed publish URL (see signUrl); kept under this name for encoders and the demo. */
export const signPublishUrl = signUrl;

/**
 * The server's store folders of processes that no longer run (a kill -9 leaves its own
 * behind): removed at start-up. The folder name carries the owner's pid.
 */
function sweepStaleStores(): void {
  let names: string[] = [];
  try { names = fs.readdirSync(os.tmpdir()); } catch { return; }
  for (const n of names) {
    const pid = Number(/^facestream-nms-(\d+)-/.exec(n)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    try { fs.rmSync(path.join(os.tmpdir(), n), { recursive: true, force: true }); } catch { /* another user's: leave it */ }
  }
}
function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Creates the server; call `run` after registering the plugin. */
export function createMediaServer(opts: { port: number; host: string; publishSecret?: string }): { nms: NodeMediaServer; run(): Promise<MediaServer> } {
  quietNmsLogger(process.env.FACESTREAM_LOG === 'debug' ? 'debug' : 'warn');
  sweepStaleStores();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), `facestream-nms-${process.pid}-`));
  const nms = new NodeMediaServer({
    bind: opts.host, rtmp: { port: opts.port }, store: { path: store }, webadmin: { enable: false },
    ...(opts.publishSecret ? { auth: { publish: true, play: true, secret: opts.publishSecret } } : {}),
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
