/**
 * facestream's HTTP server on fastify: the dashboard (dashboard/ and two browser libraries,
 * an allow-list served by @fastify/static), the REST API with schema-checked queries, recent
 * events, metrics and a health check. Listens where it is told; tests use 127.0.0.1 and
 * port 0. Errors are `{error, code}` with the status that fits; nothing a request carries
 * can take the process down.
 */
import fs from 'node:fs';
import type http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { PROJECT_ROOT } from '../data.ts';
import { eventSchemaText, openApiDocument } from './openapi.ts';
import { renderReport } from './report.ts';
import { AGE_GROUPS, WEEKDAYS, type StatsRow, type TrackQuery, type TrackRow } from '../events/store.ts';
import { GRADES, type Grade } from '../calculators/sa.ts';
import type { AddressInfo } from 'node:net';
import { EVENT_TYPES } from '../events/types.ts';
import { isEventId } from '../events/ids.ts';
import type { EventPage, EventQuery } from '../events/replay.ts';

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
  /** Milliseconds per analysed frame: `wait` (decoded to analysis start), then each element (moving average). */
  stageMs?: Record<string, number>;
}

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** When set, /api/* requires `Authorization: Bearer TOKEN` (or `?token=`); /healthz stays open. */
  token?: string;
  /** Other origins whose pages may change sources ('*' any); a page of the server's own origin always may. */
  cors?: string[] | '*';
  streams: () => StreamInfo[];
  /** GET /api/events: a page of the recent events. */
  events: (q: EventQuery) => EventPage;
  /** GET /api/stats: stored aggregates. */
  stats?: (q: { stream?: string; from?: number; to?: number; bucketMs?: number }) => StatsRow[] | Promise<StatsRow[]>;
  /** GET /api/heatmap: visits by weekday and hour (local time of `tzOffsetMin`). */
  heatmap?: (q: { stream?: string; from?: number; to?: number; tzOffsetMin: number }) => number[][] | Promise<number[][]>;
  /** GET /api/info: what runs (version, node, RTMP port, backend, memory, CPU). */
  info?: () => object;
  /** Prometheus text for GET /metrics. */
  metrics?: () => string | Promise<string>;
  /** GET /api/tracks (review), a track's thumbnail and DELETE; absent with storage.demographicsOnly. */
  tracks?: {
    list(q: TrackQuery): TrackRow[] | Promise<TrackRow[]>;
    snapshot(stream: string, id: string): Buffer | undefined | Promise<Buffer | undefined>;
    remove(stream: string, id: string): boolean | Promise<boolean>;
  };
  /** POST /api/sources and DELETE /api/sources/:name; errors carry an HTTP status. */
  sources?: {
    /** GET /api/sources: every pulled source (the cluster's with the Redis bus) with its owner and state. */
    list?(): Promise<unknown[]> | unknown[];
    add(body: unknown): Promise<StreamInfo> | StreamInfo;
    remove(name: string): Promise<boolean> | boolean;
  };
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code = 'FS_ERR_HTTP') { super(message); }
}

export interface RunningHttpServer { port: number; host: string; server: http.Server; close(): Promise<void> }

/**
 * The dashboard (dashboard/): static files, app.ts transpiled once per process by esbuild
 * (no build step), and the two browser libraries it needs from node_modules. Every asset is
 * local: the page works with no network beyond the server.
 */
const require = createRequire(import.meta.url);
const DASHBOARD = path.join(PROJECT_ROOT, 'dashboard');
function packageDir(pkg: string): string {
  const entry = require.resolve(pkg);
  return entry.slice(0, entry.lastIndexOf(`${path.sep}node_modules${path.sep}`) + 1) + `node_modules${path.sep}${pkg}`;
}
/** What the page needs, and nothing else of those folders. */
const PAGE_FILES = new Set(['/index.html', '/style.css']);
const VENDOR: Record<string, string> = {
  'uPlot.iife.min.js': path.join(packageDir('uplot'), 'dist'),
  'uPlot.min.css': path.join(packageDir('uplot'), 'dist'),
};

let appJs: Promise<string> | undefined;
/**
 * dashboard/app.ts bundled with facestream/client and socket.io-client, once per process
 * (esbuild, in memory): from the sources in a clone, from dist/ in the installed package.
 */
async function dashboardApp(): Promise<string> {
  appJs ??= (async () => {
    const esbuild = await import('esbuild');
    const fromSource = path.join(PROJECT_ROOT, 'src', 'client', 'index.ts');
    const client = fs.existsSync(fromSource) ? fromSource : path.join(PROJECT_ROOT, 'dist', 'src', 'client', 'index.js');
    const out = await esbuild.build({
      entryPoints: [path.join(DASHBOARD, 'app.ts')], bundle: true, write: false, format: 'esm', platform: 'browser',
      target: 'es2020', minify: true, legalComments: 'none', logLevel: 'silent',
      plugins: [{ name: 'facestream-client', setup(b) { b.onResolve({ filter: /^facestream\/client$/ }, () => ({ path: client })); } }],
    });
    return out.outputFiles[0]!.text;
  })();
  appJs.catch(() => { appJs = undefined; });
  return appJs;
}

/** A time in a query: whole milliseconds since the epoch, or an ISO 8601 date or date-time. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
export function parseTime(name: string, v: string | null | undefined): number | undefined {
  if (v == null || v === '') return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : ISO_TIME.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 8.64e15) throw new HttpError(400, `${name}="${v.slice(0, 64)}" is not a time (ms since the epoch or ISO 8601)`, 'FS_ERR_QUERY');
  return n;
}

/** The stored aggregates' answer, or a 503 that says why the store could not give it. */
async function fromStorage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new HttpError(503, `aggregates unavailable: ${(err as Error).message}`, 'FS_ERR_STORAGE');
  }
}

/** `stream=a,b` of a report: the names given (at most 64). */
const streamNames = (q?: string) => (q ?? '').split(',').map((n) => n.trim()).filter(Boolean).slice(0, 64);

/** from, to and bucket of a stats or report query, checked. */
function statsQuery(q: { from?: string; to?: string; bucket?: string }): { from?: number; to?: number; bucketMs?: number } {
  const { bucket } = q;
  const bucketMs = bucket == null ? undefined : /^\d{1,16}$/.test(bucket) ? Number(bucket) : NaN;
  if (bucketMs != null && !(Number.isInteger(bucketMs) && bucketMs >= 60_000 && bucketMs <= 366 * 86_400_000)) {
    throw new HttpError(400, `bucket="${bucket!.slice(0, 64)}" must be whole milliseconds from 60000 (a minute) to a year`, 'FS_ERR_QUERY');
  }
  const from = parseTime('from', q.from);
  const to = parseTime('to', q.to);
  if (from != null && to != null && to < from) throw new HttpError(400, 'to is before from', 'FS_ERR_QUERY');
  return { from, to, bucketMs };
}

export const REPORT_COLUMNS = ['bucket_start', 'stream', 'visits', 'unique_visitors', 'male', 'female', 'gender_unsure', 'baby', 'child', 'youth', 'middle_aged', 'old', 'smiling_share', 'mean_dwell_s'];
/** A CSV field: quoted when it must be, and never read as a formula by a spreadsheet. */
export function csvField(v: string | number | null): string {
  if (v == null) return '';
  let t = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  return /[",\r\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
}
function reportLine(stream: string, r: StatsRow): string {
  const g = r.ageGroups;
  return [new Date(r.from).toISOString(), stream, r.people, r.visitors, r.male, r.female, r.people - r.male - r.female,
    g.baby ?? 0, g.child ?? 0, g.youth ?? 0, g['middle-aged'] ?? 0, g.old ?? 0,
    r.smilingShare == null ? null : Math.round(r.smilingShare * 1000) / 1000,
    r.meanDwellMs == null ? null : Math.round(r.meanDwellMs / 100) / 10].map(csvField).join(',');
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

/** The routes and their methods, for 405 answers with `Allow`. */
const ROUTES: Array<[RegExp, string[]]> = [
  [/^\/api\/sources$/, ['GET', 'HEAD', 'POST']],
  [/^\/api\/sources\/[^/]+$/, ['DELETE']],
  [/^\/api\/tracks\/[^/]+$/, ['DELETE']],
  [/^\/api\/tracks\/[^/]+\/snapshot\.jpg$/, ['GET', 'HEAD']],
  [/^\/(api\/(streams|stats|events|schema|openapi\.json|report\.csv|report\.html|info|heatmap|tracks)|healthz|metrics|app\.js|index\.html|style\.css|vendor\/[^/]+)?$/, ['GET', 'HEAD']],
];

const timeQuery = { type: 'string', maxLength: 64 } as const;

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    forceCloseConnections: true,
    // a malformed target such as //[ is a 400, never an exception outside a handler
    routerOptions: { maxParamLength: 200, ignoreDuplicateSlashes: false },
    requestTimeout: 60_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  // JSON only: a form or text/plain POST is what another web page can send without asking
  app.removeContentTypeParser('text/plain');
  // fastify's own JSON parser (prototype-poisoning checks included), with an empty body read
  // as none: a DELETE sent with the JSON content type of its client is not an error
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, null);
    json(req, body as string, done);
  });

  app.setErrorHandler((err: FastifyError | HttpError, _req, reply) => {
    const status = err instanceof HttpError ? err.status : (err as FastifyError).statusCode ?? 500;
    const code = err instanceof HttpError ? err.code
      : (err as FastifyError).validation ? 'FS_ERR_QUERY'
      : (err as FastifyError).code ?? 'FS_ERR_INTERNAL';
    const message = status === 415 ? 'the body must be JSON (Content-Type: application/json)'
      : status === 413 ? `body over ${16 * 1024} bytes`
      : status >= 500 ? `internal error: ${err.message}` : err.message;
    // the rest of an unread body is not waited for
    if (status === 413 || status === 415) reply.header('connection', 'close');
    return reply.code(status).send({ error: message, code });
  });
  app.setNotFoundHandler((req, reply) => {
    const pathname = req.url.split('?')[0]!;
    const allowed = ROUTES.find(([re]) => re.test(pathname))?.[1];
    if (allowed && !allowed.includes(req.method)) {
      return reply.code(405).header('allow', allowed.join(', ')).send({ error: 'method not allowed', code: 'FS_ERR_METHOD' });
    }
    return reply.code(404).send({ error: `no route ${pathname.slice(0, 200)}`, code: 'FS_ERR_NOT_FOUND' });
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  // CORS for /api/*: the origins of http.cors may read it from their pages (a token still
  // required where set); preflights are answered before authentication
  if (opts.cors) {
    const cors = opts.cors;
    const allowedOrigin = (origin: string | undefined) => !!origin && (cors === '*' || cors.includes(origin));
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/api/')) return;
      const origin = req.headers.origin;
      if (!allowedOrigin(origin)) return;
      reply.header('access-control-allow-origin', cors === '*' ? '*' : origin!);
      reply.header('vary', 'Origin');
      reply.header('access-control-expose-headers', 'content-type');
      if (req.method === 'OPTIONS') {
        return reply.code(204)
          .header('access-control-allow-methods', 'GET, HEAD, POST, DELETE')
          .header('access-control-allow-headers', 'authorization, content-type')
          .header('access-control-max-age', '600')
          .send();
      }
    });
  }
  if (opts.token) {
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!req.url.startsWith('/api/')) return;
      const query = req.query as Record<string, unknown> | undefined;
      const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? query?.token;
      if (given !== opts.token) return reply.code(401).send({ error: 'a valid token is required (Authorization: Bearer TOKEN)', code: 'FS_ERR_AUTH' });
    });
  }

  await app.register(fastifyStatic, {
    root: DASHBOARD, serve: true, index: false, wildcard: false, cacheControl: false,
    allowedPath: (p, root) => {
      const name = p.replace(/^\/+/, '');
      const dir = (root ?? '').replace(/[\\/]+$/, '');
      return dir === DASHBOARD ? PAGE_FILES.has(`/${name}`) : Object.hasOwn(VENDOR, name) && VENDOR[name] === dir;
    },
    globIgnore: ['**/*.ts', '**/*.json'],
    setHeaders: (res) => { res.header('cache-control', 'no-cache'); },
  });
  app.get('/', (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
  app.get<{ Params: { file: string } }>('/vendor/:file', (req, reply) => {
    const dir = Object.hasOwn(VENDOR, req.params.file) ? VENDOR[req.params.file] : undefined;
    if (!dir) return reply.callNotFound();
    return reply.header('cache-control', 'no-cache').sendFile(req.params.file, dir);
  });
  // browsers ask for it on every page: no icon, and no error in the page's console
  app.get('/favicon.ico', (_req, reply) => reply.code(204).send());
  app.get('/app.js', async (_req, reply) => {
    try {
      const code = await dashboardApp();
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(code);
    } catch (err) {
      throw new HttpError(500, `dashboard: ${(err as Error).message}`);
    }
  });

  if (opts.metrics) {
    const metrics = opts.metrics;
    app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics()));
  }
  app.get('/healthz', () => ({ ok: true, streams: opts.streams().length }));
  app.get('/api/streams', () => ({ streams: opts.streams() }));
  if (opts.info) {
    const info = opts.info;
    app.get('/api/info', () => info());
  }
  app.get<{ Querystring: { stream?: string; after?: string; limit?: string; type?: string } }>('/api/events', {
    schema: {
      querystring: {
        type: 'object',
        properties: { stream: { type: 'string', maxLength: 200 }, after: { type: 'string', maxLength: 40 }, limit: { type: 'string', maxLength: 8 }, type: { type: 'string', maxLength: 400 }, token: { type: 'string' } },
      },
    },
  }, (req) => {
    const { stream, after, limit, type } = req.query;
    if (after != null && !isEventId(after)) throw new HttpError(400, `after="${after}" is not an event id (MS-SEQ, the id of an event)`, 'FS_ERR_QUERY');
    const n = limit == null ? 100 : /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= 1000)) throw new HttpError(400, `limit="${limit}" must be a whole number from 1 to 1000`, 'FS_ERR_QUERY');
    let types: Set<string> | undefined;
    if (type != null) {
      types = new Set(type.split(',').map((t) => t.trim()).filter(Boolean));
      const unknown = [...types].filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
      if (unknown.length || !types.size) throw new HttpError(400, `type: ${unknown.map((t) => `"${t.slice(0, 40)}"`).join(', ') || 'empty'} is not an event type (${EVENT_TYPES.join(', ')})`, 'FS_ERR_QUERY');
    }
    const page = opts.events({ stream, after, limit: n, types });
    const last = page.events.at(-1)?.id ?? after;
    return { events: page.events, ...(last ? { next: last } : {}), more: page.more };
  });
  app.get('/api/schema', (_req, reply) => reply.type('application/schema+json').send(eventSchemaText()));
  app.get('/api/openapi.json', () => openApiDocument());
  if (opts.heatmap) {
    const heat = opts.heatmap;
    app.get<{ Querystring: { stream?: string; from?: string; to?: string; tz?: string } }>('/api/heatmap', {
      schema: { querystring: { type: 'object', properties: { stream: { type: 'string', maxLength: 200 }, from: timeQuery, to: timeQuery, tz: { type: 'string', maxLength: 6 }, token: { type: 'string' } } } },
    }, async (req) => {
      const { from, to } = statsQuery(req.query);
      const tz = req.query.tz == null ? 0 : /^-?\d{1,4}$/.test(req.query.tz) ? Number(req.query.tz) : NaN;
      if (!(Math.abs(tz) <= 14 * 60)) throw new HttpError(400, `tz="${String(req.query.tz).slice(0, 8)}" must be minutes east of UTC (-840 to 840)`, 'FS_ERR_QUERY');
      return { weekdays: WEEKDAYS, cells: await fromStorage(async () => heat({ stream: req.query.stream, from, to, tzOffsetMin: tz })) };
    });
  }
  if (opts.stats && opts.heatmap) {
    const stats = opts.stats, heat = opts.heatmap;
    app.get<{ Querystring: { stream?: string; from?: string; to?: string; token?: string } }>('/api/report.html', {
      schema: { querystring: { type: 'object', properties: { stream: { type: 'string', maxLength: 2000 }, from: timeQuery, to: timeQuery, token: { type: 'string' } } } },
    }, async (req, reply) => {
      const q = statsQuery(req.query);
      const to = q.to ?? Date.now();
      const from = q.from ?? to - 30 * 86_400_000;
      const names = streamNames(req.query.stream);
      const wanted = names.length ? names : opts.streams().map((s) => s.name);
      const streams = await fromStorage(() => Promise.all(wanted.map(async (name) => ({
        name,
        days: await stats({ stream: name, from, to, bucketMs: 86_400_000 }),
        heat: await heat({ stream: name, from, to, tzOffsetMin: 0 }),
      }))));
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderReport({ from, to, generatedAt: Date.now(), streams }));
    });
  }
  if (opts.stats) {
    const stats = opts.stats;
    // a venue's report as a spreadsheet opens it: one row per bucket and stream
    app.get<{ Querystring: { stream?: string; from?: string; to?: string; bucket?: string } }>('/api/report.csv', {
      schema: {
        querystring: {
          type: 'object',
          properties: { stream: { type: 'string', maxLength: 2000 }, from: timeQuery, to: timeQuery, bucket: { type: 'string', maxLength: 20 }, token: { type: 'string' } },
        },
      },
    }, async (req, reply) => {
      const { from, to, bucketMs } = statsQuery(req.query);
      const names = streamNames(req.query.stream);
      const lines = [REPORT_COLUMNS.join(',')];
      await fromStorage(async () => {
        for (const name of names.length ? names : [undefined]) {
          for (const r of await stats({ stream: name, from, to, bucketMs: bucketMs ?? 3_600_000 })) lines.push(reportLine(name ?? '*', r));
        }
      });
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="facestream-report.csv"').send(lines.join('\r\n') + '\r\n');
    });
    app.get<{ Querystring: { stream?: string; from?: string; to?: string; bucket?: string } }>('/api/stats', {
      schema: {
        querystring: {
          type: 'object',
          properties: { stream: { type: 'string', maxLength: 200 }, from: timeQuery, to: timeQuery, bucket: { type: 'string', maxLength: 20 }, token: { type: 'string' } },
        },
      },
    }, async (req) => {
      const { from, to, bucketMs } = statsQuery(req.query);
      return { buckets: await fromStorage(async () => stats({ stream: req.query.stream, from, to, bucketMs })) };
    });
  }

  // another web page cannot add or remove cameras or tracks through an operator's browser
  const sameOrigin = async (req: FastifyRequest) => {
    if (!originAllowed(req.headers.origin, req.headers.host, opts.cors)) {
      throw new HttpError(403, `origin ${String(req.headers.origin).slice(0, 100)} may not change sources or tracks`, 'FS_ERR_ORIGIN');
    }
  };
  if (opts.tracks) {
    const tracks = opts.tracks;
    const streamParam = { type: 'string', minLength: 1, maxLength: 200 } as const;
    const idParam = { type: 'object', properties: { id: { type: 'string', pattern: '^\\d{1,16}-\\d{1,16}$' } } } as const;
    app.get<{ Querystring: { stream?: string; from?: string; to?: string; before?: string; gender?: string; ageGroup?: string; grade?: string; limit?: string } }>('/api/tracks', {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            stream: { type: 'string', maxLength: 200 }, from: timeQuery, to: timeQuery, before: timeQuery, token: { type: 'string' },
            gender: { type: 'string', enum: ['male', 'female'] }, ageGroup: { type: 'string', enum: [...AGE_GROUPS] },
            grade: { type: 'string', enum: [...GRADES] }, limit: { type: 'string', pattern: '^\\d{1,4}$' },
          },
        },
      },
    }, async (req) => {
      const q = req.query;
      const limit = q.limit == null ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) throw new HttpError(400, `limit=${q.limit} must be 1 to 1000`, 'FS_ERR_QUERY');
      const query: TrackQuery = {
        stream: q.stream || undefined, from: parseTime('from', q.from), to: parseTime('to', q.to), before: parseTime('before', q.before),
        gender: q.gender, ageGroup: q.ageGroup, grade: q.grade as Grade | undefined, limit,
      };
      const rows = await fromStorage(async () => tracks.list(query));
      return { tracks: rows, ...(rows.length === limit ? { next: rows[rows.length - 1]!.endedAt } : {}) };
    });
    app.get<{ Params: { id: string }; Querystring: { stream: string } }>('/api/tracks/:id/snapshot.jpg', {
      schema: { params: idParam, querystring: { type: 'object', required: ['stream'], properties: { stream: streamParam, token: { type: 'string' } } } },
    }, async (req, reply) => {
      const jpeg = await fromStorage(async () => tracks.snapshot(req.query.stream, req.params.id));
      if (!jpeg) return reply.code(404).send({ error: `no thumbnail of track ${req.params.id} of "${req.query.stream.slice(0, 64)}"`, code: 'FS_ERR_NOT_FOUND' });
      // a face: never cached by a proxy or kept by the browser beyond the page
      return reply.type('image/jpeg').header('cache-control', 'private, no-store').send(jpeg);
    });
    app.delete<{ Params: { id: string }; Querystring: { stream: string } }>('/api/tracks/:id', {
      onRequest: sameOrigin,
      schema: { params: idParam, querystring: { type: 'object', required: ['stream'], properties: { stream: streamParam, token: { type: 'string' } } } },
    }, async (req, reply) => {
      if (await fromStorage(async () => tracks.remove(req.query.stream, req.params.id))) return { removed: req.params.id, stream: req.query.stream };
      return reply.code(404).send({ error: `no track ${req.params.id} of "${req.query.stream.slice(0, 64)}"`, code: 'FS_ERR_NOT_FOUND' });
    });
  }

  if (opts.sources) {
    const src = opts.sources;
    if (src.list) {
      const list = src.list;
      app.get('/api/sources', async () => {
        try {
          return { sources: await list() };
        } catch (err) {
          throw new HttpError(503, `sources unavailable: ${(err as Error).message}`, 'FS_ERR_STORAGE');
        }
      });
    }
    app.post('/api/sources', { onRequest: sameOrigin }, async (req, reply) => {
      try {
        return reply.code(201).send({ stream: await src.add(req.body ?? null) });
      } catch (err) {
        // what the source's own checks say (a pipeline that does not load, ...) is the request's fault
        throw err instanceof HttpError ? err : new HttpError(400, (err as Error).message, 'FS_ERR_SOURCE');
      }
    });
    app.delete<{ Params: { name: string } }>('/api/sources/:name', { onRequest: sameOrigin }, async (req, reply) => {
      const name = req.params.name;
      if (await src.remove(name)) return { removed: name };
      return reply.code(404).send({ error: `no pulled source "${name.slice(0, 64)}"`, code: 'FS_ERR_NOT_FOUND' });
    });
  }

  await app.listen({ port: opts.port ?? 8080, host: opts.host ?? '127.0.0.1' });
  const addr = app.server.address() as AddressInfo;
  app.server.headersTimeout = 20_000;
  return {
    port: addr.port, host: addr.address, server: app.server,
    // socket.io's close may have closed the server already
    close: async () => { await app.close().catch(() => {}); },
  };
}
