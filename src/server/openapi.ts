/**
 * The REST API described for integrators: OpenAPI 3.1 at GET /api/openapi.json, with the
 * events' JSON Schema (schema/events.schema.json, generated from src/events/types.ts) as its
 * components, and that schema alone at GET /api/schema. test/schema.test.ts checks that every
 * route the server answers is described here and that the answers fit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../data.ts';

export const EVENT_SCHEMA_PATH = path.join(PROJECT_ROOT, 'schema', 'events.schema.json');

let schemaText: string | undefined;
export function eventSchemaText(): string {
  return (schemaText ??= fs.readFileSync(EVENT_SCHEMA_PATH, 'utf8'));
}

const error = { $ref: '#/components/schemas/Error' };
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: ({ 400: 'bad request', 401: 'token required', 403: 'origin not allowed', 404: 'not found', 409: 'exists', 413: 'body too large', 415: 'not JSON', 429: 'too many sources', 503: 'storage unavailable' } as Record<number, string>)[c] ?? 'error', content: { 'application/json': { schema: error } } }]));
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const q = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });

const streamInfo = {
  type: 'object',
  required: ['name', 'uri', 'kind', 'state', 'pipeline', 'frames', 'dropped', 'restarts', 'startedAt'],
  properties: {
    name: { type: 'string' }, uri: { type: 'string', description: 'credentials replaced by ***' },
    kind: { enum: ['published', 'pulled', 'file'] }, state: { type: 'string', description: 'starting, live, stalled, restarting, ended, error' },
    reason: { type: 'string' }, pipeline: { type: 'string' }, frames: { type: 'integer' }, dropped: { type: 'integer' }, restarts: { type: 'integer' },
    startedAt: { type: 'integer', description: 'ms since the epoch' }, firstFrameLatencyMs: { type: 'number' }, owner: { type: 'string', description: 'the node that analyses it' },
    stageMs: { type: 'object', additionalProperties: { type: 'number' }, description: 'ms per analysed frame: wait (decoded to analysis start), then each element, moving average' },
  },
};
const statsRow = {
  type: 'object',
  required: ['from', 'people', 'male', 'female', 'ageGroups', 'smiling', 'smilingShare', 'meanDwellMs'],
  properties: {
    from: { type: 'integer', description: 'bucket start, ms since the epoch' }, people: { type: 'integer', description: 'visits: tracks that ended in the bucket' },
    male: { type: 'integer' }, female: { type: 'integer' }, ageGroups: { type: 'object', additionalProperties: { type: 'integer' } },
    smiling: { type: 'integer' }, smilingShare: { type: ['number', 'null'] }, meanDwellMs: { type: ['number', 'null'] },
  },
};

const answer = { type: 'object', properties: { value: { type: 'string' }, grade: { type: 'string', enum: ['S', 'A', 'B', 'C', 'D'] }, probability: { type: 'number' } } };
const trackRow = {
  type: 'object', required: ['id', 'stream', 'trackId', 'endedAt', 'dwellMs', 'grade', 'snapshot'],
  properties: {
    id: { type: ['string', 'null'], description: 'the id of its track.ended event' }, stream: { type: 'string' }, trackId: { type: 'integer' },
    endedAt: { type: 'integer' }, dwellMs: { type: 'integer' }, grade: { type: ['string', 'null'] },
    gender: answer, ageGroup: answer, age: { type: 'number' }, smiling: answer, snapshot: { type: 'boolean', description: 'a thumbnail is kept' },
  },
};

/** The OpenAPI document; `components.schemas` holds the event schema's definitions. */
export function openApiDocument(): object {
  const events = JSON.parse(eventSchemaText()) as { definitions: Record<string, unknown> };
  const defs = JSON.parse(JSON.stringify(events.definitions).replaceAll('#/definitions/', '#/components/schemas/')) as Record<string, unknown>;
  const timeParam = (name: string) => q(name, 'ms since the epoch or ISO 8601', { type: 'string' });
  return {
    openapi: '3.1.0',
    info: { title: 'facestream', version: '1', description: 'Live face-attribute analytics: streams, events, aggregates, sources. With `http.token` set, /api/* needs `Authorization: Bearer TOKEN`. Errors are `{ error, code }`.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...defs,
        Error: { type: 'object', required: ['error', 'code'], properties: { error: { type: 'string' }, code: { type: 'string', description: 'FS_ERR_...' } } },
        StreamInfo: streamInfo,
        StatsRow: statsRow,
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/api/streams': { get: { summary: 'The streams analysed (every node\'s with the Redis bus)', responses: { 200: json({ type: 'object', required: ['streams'], properties: { streams: { type: 'array', items: { $ref: '#/components/schemas/StreamInfo' } } } }), ...errors(401) } } },
      '/api/events': {
        get: {
          summary: 'Recent events, oldest first; page with `after` = the previous page\'s `next`',
          parameters: [
            q('stream', 'one stream\'s events only'),
            q('after', 'events after this event id (MS-SEQ); without it, the newest `limit`', { type: 'string', pattern: '^\\d{1,16}-\\d{1,16}$' }),
            q('limit', 'at most this many (1-1000, default 100)', { type: 'string', pattern: '^\\d{1,4}$' }),
            q('type', 'comma-separated event types, e.g. track.ended,stats'),
          ],
          responses: {
            200: json({
              type: 'object', required: ['events', 'more'],
              properties: {
                events: { type: 'array', items: { $ref: '#/components/schemas/FacestreamEvent' } },
                next: { type: 'string', description: 'the id to pass as `after` for the next page' },
                more: { type: 'boolean', description: 'more events match after this page' },
              },
            }),
            ...errors(400, 401),
          },
        },
      },
      '/api/stats': {
        get: {
          summary: 'Stored aggregates per time bucket',
          parameters: [q('stream', 'one stream only'), timeParam('from'), timeParam('to'), q('bucket', 'bucket width in ms (60000 to a year; default an hour)')],
          responses: { 200: json({ type: 'object', required: ['buckets'], properties: { buckets: { type: 'array', items: { $ref: '#/components/schemas/StatsRow' } } } }), ...errors(400, 401, 503) },
        },
      },
      '/api/heatmap': {
        get: {
          summary: 'Visits by weekday (Monday first) and hour of day, in the local time of `tz`',
          parameters: [q('stream', 'one stream only'), timeParam('from'), timeParam('to'), q('tz', 'minutes east of UTC (the browser\'s -getTimezoneOffset()), default 0')],
          responses: { 200: json({ type: 'object', required: ['weekdays', 'cells'], properties: { weekdays: { type: 'array', items: { type: 'string' } }, cells: { type: 'array', items: { type: 'array', items: { type: 'integer' } }, description: '7 rows (weekdays) of 24 hours' } } }), ...errors(400, 401, 503) },
        },
      },
      '/api/report.html': {
        get: {
          summary: 'A printable report (HTML, no script): per stream the visits, gender, age groups, smiling, dwell, visits per day and the weekday x hour heatmap',
          parameters: [q('stream', 'comma-separated streams (default: the streams analysed now)'), timeParam('from'), timeParam('to')],
          responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(400, 401, 503) },
        },
      },
      '/api/report.csv': {
        get: {
          summary: 'The stored aggregates as CSV, one row per bucket and stream (visits, gender, age groups, smiling share, mean dwell)',
          parameters: [q('stream', 'comma-separated streams, side by side (default: every stream summed, stream "*")'), timeParam('from'), timeParam('to'), q('bucket', 'bucket width in ms (60000 to a year; default an hour)')],
          responses: { 200: { description: 'CSV with a header line', content: { 'text/csv': { schema: { type: 'string' } } } }, ...errors(400, 401, 503) },
        },
      },
      '/api/sources': {
        get: {
          summary: 'Every pulled source (the cluster\'s with the Redis bus) with the node that pulls it and its state',
          responses: { 200: json({ type: 'object', required: ['sources'], properties: { sources: { type: 'array', items: { type: 'object', required: ['name', 'uri', 'pipeline', 'owner', 'state'], properties: { name: { type: 'string' }, uri: { type: 'string' }, pipeline: { type: 'string' }, owner: { type: ['string', 'null'] }, state: { type: 'string' }, reason: { type: 'string' } } } } } }), ...errors(401, 503) },
        },
        post: {
          summary: 'Pull a camera (kept across restarts)',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object', required: ['name', 'url'], additionalProperties: false, properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, url: { type: 'string', description: 'rtsp, rtsps, rtmp, rtmps, srt or http(s)' }, pipeline: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, realtime: { type: 'boolean' } } } } },
          },
          responses: { 201: json({ type: 'object', required: ['stream'], properties: { stream: { $ref: '#/components/schemas/StreamInfo' } } }, 'added'), ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
        },
      },
      '/api/sources/{name}': {
        delete: {
          summary: 'Stop pulling a camera',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object', required: ['removed'], properties: { removed: { type: 'string' } } }), ...errors(401, 403, 404) },
        },
      },
      '/api/tracks': {
        get: {
          summary: 'Ended tracks kept for review, newest first (absent with storage.demographicsOnly); page with `before` = the previous page\'s `next`',
          parameters: [q('stream', 'one stream only'), timeParam('from'), timeParam('to'), timeParam('before'),
            q('gender', 'male or female'), q('ageGroup', 'baby, child, youth, middle-aged or old'),
            q('grade', 'this grade or better: the worse of the track\'s gender and age-group grades (S best)'), q('limit', '1-1000, default 100')],
          responses: {
            200: json({
              type: 'object', required: ['tracks'],
              properties: {
                tracks: { type: 'array', items: trackRow },
                next: { type: 'integer', description: 'pass as `before` for the next page (present when the page is full)' },
              },
            }),
            ...errors(400, 401, 503),
          },
        },
      },
      '/api/tracks/{id}/snapshot.jpg': {
        get: {
          summary: 'A track\'s thumbnail (storage.snapshots): its face at its best quality, JPEG',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'the id of its track.ended event' }, q('stream', 'its stream (required)')],
          responses: { 200: { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } }, ...errors(400, 401, 404, 503) },
        },
      },
      '/api/tracks/{id}': {
        delete: {
          summary: 'Delete a track\'s row and thumbnail (the anonymous aggregates it counted in stay)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'the id of its track.ended event' }, q('stream', 'its stream (required)')],
          responses: { 200: json({ type: 'object', required: ['removed', 'stream'], properties: { removed: { type: 'string' }, stream: { type: 'string' } } }), ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/api/info': {
        get: {
          summary: 'What runs: version, node, RTMP port, tensorflow.js backend, memory and CPU, and the features switched on',
          responses: {
            200: json({ type: 'object', required: ['version', 'node', 'rtmp', 'backend', 'rssBytes', 'cpuPercent'], properties: { version: { type: 'string' }, node: { type: 'string' }, rtmp: { type: 'object', properties: { port: { type: 'integer' } } }, backend: { type: 'string' }, engine: { type: 'string', description: 'the inference engine: onnxruntime-node VERSION, PROVIDER, N threads; or tfjs BACKEND' }, rssBytes: { type: 'integer' }, cpuPercent: { type: ['number', 'null'], description: 'of one core, since the previous call' }, features: { type: 'object', properties: { video: { type: 'boolean', description: 'the live view (dashboard.video)' }, tracks: { type: 'boolean', description: 'per-track rows (/api/tracks)' }, snapshots: { type: 'boolean', description: 'thumbnails (storage.snapshots)' } } } } }),
            ...errors(401),
          },
        },
      },
      '/api/schema': { get: { summary: 'The events\' JSON Schema', responses: { 200: { description: 'JSON Schema (draft-07)', content: { 'application/schema+json': { schema: { type: 'object' } } } }, ...errors(401) } } },
      '/api/openapi.json': { get: { summary: 'This document', responses: { 200: json({ type: 'object' }), ...errors(401) } } },
      '/healthz': { get: { summary: 'Liveness (no token needed)', security: [], responses: { 200: json({ type: 'object', required: ['ok', 'streams'], properties: { ok: { type: 'boolean' }, streams: { type: 'integer' } } }) } } },
      '/metrics': { get: { summary: 'Prometheus metrics (text format)', security: [], responses: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    },
  };
}
