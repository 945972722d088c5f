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
  /** Why it is restarting, stalled or failed. */
  reason?: string;
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
  /** Other origins whose pages may change sources ('*' any); a page of the server's own origin always may. */
  cors?: string[] | '*';
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

/** Reads a JSON body of at most `limit` bytes; a larger one is a 413 (said before it is read, when its length is declared). */
function readJson(req: http.IncomingMessage, limit = 16 * 1024): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // JSON only: a form or text/plain POST is what another web page can send without asking
    if (type !== 'application/json') return reject(new HttpError(415, 'the body must be JSON (Content-Type: application/json)'));
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new HttpError(413, `body over ${limit} bytes`));
    let size = 0;
    let done = false;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) { done = true; chunks.length = 0; reject(new HttpError(413, `body over ${limit} bytes`)); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')); } catch { reject(new HttpError(400, 'body is not JSON')); }
    });
    req.on('error', (err) => { if (!done) { done = true; reject(err); } });
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

function json(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data),
    'x-content-type-options': 'nosniff', ...headers,
  });
  res.end(data);
}

/** A time in a query: whole milliseconds since the epoch, or an ISO 8601 date or date-time. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
export function parseTime(name: string, v: string | null): number | undefined {
  if (v == null || v === '') return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : ISO_TIME.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 8.64e15) throw new HttpError(400, `${name}="${v.slice(0, 64)}" is not a time (ms since the epoch or ISO 8601)`);
  return n;
}

/**
 * Whether a browser request's Origin may act here: its own origin (the Host it asked), or
 * one listed in `cors`. Requests without an Origin (curl, integrators' servers) pass: the
 * token is their check.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, cors?: string[] | '*'): boolean {
  if (!origin) return true;
  if (cors === '*') return true;
  if (cors?.includes(origin)) return true;
  try { return new URL(origin).host === host; } catch { return false; }
}

export function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    try {
      route(req, res);
    } catch (err) {
      // nothing a request carries may take the process down: the worst is a 400 or 500
      if (err instanceof HttpError) return json(res, err.status, { error: err.message });
      return json(res, 500, { error: `internal error: ${(err as Error).message}` });
    }
  });
  // a malformed request line or header never reaches the handler: Node answers 400 and closes
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err.code === 'ECONNRESET')) { socket.destroy(); return; }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;

  function route(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new HttpError(400, 'malformed request target');
    }
    if (opts.token && url.pathname.startsWith('/api/')) {
      const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? url.searchParams.get('token');
      if (given !== opts.token) return json(res, 401, { error: 'a valid token is required (Authorization: Bearer TOKEN)' });
    }
    const sourceName = /^\/api\/sources\/([^/]+)$/.exec(url.pathname)?.[1];
    if (opts.sources && ((req.method === 'POST' && url.pathname === '/api/sources') || (req.method === 'DELETE' && sourceName))) {
      // another web page cannot add or remove cameras through an operator's browser
      if (!originAllowed(req.headers.origin, req.headers.host, opts.cors)) return json(res, 403, { error: `origin ${req.headers.origin} may not change sources` });
      const src = opts.sources;
      void (async () => {
        try {
          if (req.method === 'POST') return json(res, 201, { stream: await src.add(await readJson(req)) });
          let name: string;
          try { name = decodeURIComponent(sourceName!); } catch { throw new HttpError(400, 'malformed source name'); }
          return (await src.remove(name)) ? json(res, 200, { removed: name }) : json(res, 404, { error: `no pulled source "${name.slice(0, 64)}"` });
        } catch (err) {
          const status = err instanceof HttpError ? err.status : 400;
          // the rest of an unread body is not waited for
          return json(res, status, { error: (err as Error).message }, status === 413 || status === 415 ? { connection: 'close' } : {});
        }
      })().catch(() => { /* the client went away */ });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    switch (url.pathname) {
      case '/app.js':
        void dashboardApp().then((code) => {
          if (res.destroyed) return;
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
          res.end(code);
        }, (err: Error) => json(res, 500, { error: `dashboard: ${err.message}` }));
        return;
      case '/metrics':
        if (!opts.metrics) break;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(opts.metrics());
      case '/healthz':
        return json(res, 200, { ok: true, streams: opts.streams().length });
      case '/api/streams':
        return json(res, 200, { streams: opts.streams() });
      case '/api/stats': {
        if (!opts.stats) break;
        const bucket = url.searchParams.get('bucket');
        const bucketMs = bucket == null ? undefined : /^\d{1,16}$/.test(bucket) ? Number(bucket) : NaN;
        if (bucketMs != null && !(Number.isInteger(bucketMs) && bucketMs >= 60_000 && bucketMs <= 366 * 86_400_000)) {
          throw new HttpError(400, `bucket="${bucket!.slice(0, 64)}" must be whole milliseconds from 60000 (a minute) to a year`);
        }
        const from = parseTime('from', url.searchParams.get('from'));
        const to = parseTime('to', url.searchParams.get('to'));
        if (from != null && to != null && to < from) throw new HttpError(400, 'to is before from');
        void Promise.resolve().then(() => opts.stats!({ stream: url.searchParams.get('stream') ?? undefined, from, to, bucketMs })).then(
          (buckets) => json(res, 200, { buckets }),
          (err: Error) => json(res, 503, { error: `aggregates unavailable: ${err.message}` }),
        );
        return;
      }
      case '/api/events':
        return json(res, 200, { events: opts.events(url.searchParams.get('stream') ?? undefined) });
    }
    const asset = Object.hasOwn(ASSETS, url.pathname) ? ASSETS[url.pathname] : undefined;
    if (asset) {
      try {
        const body = fs.readFileSync(asset.file());
        res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
        return void res.end(body);
      } catch (err) {
        return json(res, 500, { error: `dashboard asset ${url.pathname}: ${(err as Error).message}` });
      }
    }
    return json(res, 404, { error: `no route ${url.pathname.slice(0, 200)}` });
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => {
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
