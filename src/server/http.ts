/**
 * facestream's HTTP server: the dashboard (dashboard/, local assets only), the
 * stream list as JSON, recent events, and a health check. Listens where it is told;
 * tests use 127.0.0.1 and port 0.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../data.ts';
import type { AddressInfo } from 'node:net';
import type { FacestreamEvent } from '../events/types.ts';

export interface StreamInfo {
  name: string;
  uri: string;
  kind: 'published' | 'pulled' | 'file';
  state: string;
  pipeline: string;
  frames: number;
  dropped: number;
  restarts: number;
  startedAt: number;
  firstFrameLatencyMs?: number;
  /** The node that analyses it. */
  owner?: string;
}

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** When set, /api/* requires `Authorization: Bearer TOKEN` (or `?token=`); /healthz stays open. */
  token?: string;
  streams: () => StreamInfo[];
  events: (stream?: string) => FacestreamEvent[];
  /** GET /api/stats: stored aggregates. */
  stats?: (q: { stream?: string; from?: number; to?: number; bucketMs?: number }) => unknown[] | Promise<unknown[]>;
  /** Prometheus text for GET /metrics. */
  metrics?: () => string;
  /** POST /api/sources and DELETE /api/sources/:name; errors carry an HTTP status. */
  sources?: {
    add(body: unknown): Promise<StreamInfo> | StreamInfo;
    remove(name: string): Promise<boolean> | boolean;
  };
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

function readJson(req: http.IncomingMessage, limit = 16 * 1024): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, `body over ${limit} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')); } catch { reject(new HttpError(400, 'body is not JSON')); }
    });
    req.on('error', reject);
  });
}

export interface RunningHttpServer { port: number; host: string; server: http.Server; close(): Promise<void> }

/**
 * The dashboard (dashboard/): static files, app.ts transpiled once per process by esbuild
 * (no build step), and the two browser libraries it needs from node_modules. Every asset is
 * local: the page works with no network beyond the server.
 */
const require = createRequire(import.meta.url);
const DASHBOARD = path.join(PROJECT_ROOT, 'dashboard');
function packageFile(pkg: string, rel: string): string {
  const entry = require.resolve(pkg);
  const root = entry.slice(0, entry.lastIndexOf(`${path.sep}node_modules${path.sep}`) + 1) + `node_modules${path.sep}${pkg}`;
  return path.join(root, rel);
}
const ASSETS: Record<string, { type: string; file: () => string }> = {
  '/': { type: 'text/html; charset=utf-8', file: () => path.join(DASHBOARD, 'index.html') },
  '/index.html': { type: 'text/html; charset=utf-8', file: () => path.join(DASHBOARD, 'index.html') },
  '/style.css': { type: 'text/css; charset=utf-8', file: () => path.join(DASHBOARD, 'style.css') },
  '/vendor/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', file: () => packageFile('uplot', 'dist/uPlot.iife.min.js') },
  '/vendor/uPlot.min.css': { type: 'text/css; charset=utf-8', file: () => packageFile('uplot', 'dist/uPlot.min.css') },
  '/vendor/socket.io.esm.min.js': { type: 'text/javascript; charset=utf-8', file: () => packageFile('socket.io', 'client-dist/socket.io.esm.min.js') },
};
let appJs: Promise<string> | undefined;
async function dashboardApp(): Promise<string> {
  appJs ??= (async () => {
    const esbuild = await import('esbuild');
    const source = fs.readFileSync(path.join(DASHBOARD, 'app.ts'), 'utf8');
    const out = await esbuild.transform(source, { loader: 'ts', format: 'esm', target: 'es2020', sourcefile: 'app.ts' });
    return out.code;
  })();
  appJs.catch(() => { appJs = undefined; });
  return appJs;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

export function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (opts.token && url.pathname.startsWith('/api/')) {
      const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? url.searchParams.get('token');
      if (given !== opts.token) return json(res, 401, { error: 'a valid token is required (Authorization: Bearer TOKEN)' });
    }
    const sourceName = /^\/api\/sources\/([^/]+)$/.exec(url.pathname)?.[1];
    if (opts.sources && ((req.method === 'POST' && url.pathname === '/api/sources') || (req.method === 'DELETE' && sourceName))) {
      const src = opts.sources;
      void (async () => {
        try {
          if (req.method === 'POST') return json(res, 201, { stream: await src.add(await readJson(req)) });
          const name = decodeURIComponent(sourceName!);
          return (await src.remove(name)) ? json(res, 200, { removed: name }) : json(res, 404, { error: `no pulled source "${name}"` });
        } catch (err) {
          const status = err instanceof HttpError ? err.status : 400;
          return json(res, status, { error: (err as Error).message });
        }
      })();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    switch (url.pathname) {
      case '/app.js':
        void dashboardApp().then((code) => {
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
          res.end(code);
        }, (err: Error) => json(res, 500, { error: `dashboard: ${err.message}` }));
        return;
      case '/metrics':
        if (!opts.metrics) break;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return res.end(opts.metrics());
      case '/healthz':
        return json(res, 200, { ok: true, streams: opts.streams().length });
      case '/api/streams':
        return json(res, 200, { streams: opts.streams() });
      case '/api/stats': {
        if (!opts.stats) break;
        const time = (name: string) => {
          const v = url.searchParams.get(name);
          if (v == null || v === '') return undefined;
          const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
          if (!Number.isFinite(n) || n < 0 || n > 8.64e15) throw new HttpError(400, `${name}="${v}" is not a time (ms since the epoch or ISO 8601)`);
          return n;
        };
        try {
          const bucket = url.searchParams.get('bucket');
          const bucketMs = bucket == null ? undefined : Number(bucket);
          if (bucketMs != null && !(Number.isInteger(bucketMs) && bucketMs >= 60_000 && bucketMs <= 366 * 86_400_000)) {
            throw new HttpError(400, `bucket="${bucket}" must be whole milliseconds from 60000 (a minute) to a year`);
          }
          const from = time('from');
          const to = time('to');
          if (from != null && to != null && to < from) throw new HttpError(400, 'to is before from');
          void Promise.resolve(opts.stats({ stream: url.searchParams.get('stream') ?? undefined, from, to, bucketMs })).then(
            (buckets) => json(res, 200, { buckets }),
            (err: Error) => json(res, 503, { error: `aggregates unavailable: ${err.message}` }),
          );
          return;
        } catch (err) {
          return json(res, err instanceof HttpError ? err.status : 400, { error: (err as Error).message });
        }
      }
      case '/api/events':
        return json(res, 200, { events: opts.events(url.searchParams.get('stream') ?? undefined) });
    }
    const asset = ASSETS[url.pathname];
    if (asset) {
      try {
        const body = fs.readFileSync(asset.file());
        res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-cache' });
        return res.end(body);
      } catch (err) {
        return json(res, 500, { error: `dashboard asset ${url.pathname}: ${(err as Error).message}` });
      }
    }
    return json(res, 404, { error: `no route ${url.pathname}` });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '0.0.0.0', () => {
      const addr = server.address() as AddressInfo;
      resolve({
        port: addr.port,
        host: addr.address,
        server,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
