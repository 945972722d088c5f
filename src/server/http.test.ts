import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, csvField, parseTime, startHttpServer, type RunningHttpServer } from './http.ts';

let server: RunningHttpServer;
let base: string;
const added: unknown[] = [];
beforeAll(async () => {
  server = await startHttpServer({
    host: '127.0.0.1', port: 0, token: 'secret-token',
    streams: () => [{ name: 'cam', uri: 'rtsp://***@h/x', kind: 'pulled', state: 'live', pipeline: 'default', frames: 1, dropped: 0, restarts: 0, startedAt: 0 }],
    events: (q) => ({ events: [{ id: '1-0', v: 1, type: 'stream.started', stream: q.stream ?? 'cam', ts: 1, uri: 'x', pipeline: 'default', live: true }], more: false }),
    stats: async (q) => [{ q }] as never, // echoes the parsed query
    metrics: () => 'facestream_up 1\n',
    sources: {
      add: (body) => {
        if ((body as { name?: string })?.name === 'taken') throw new HttpError(409, 'exists', 'FS_ERR_SOURCE_EXISTS');
        added.push(body);
        return { name: 'door' } as never;
      },
      remove: (name) => name === 'door',
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

const auth = { authorization: 'Bearer secret-token' };
const json = { ...auth, 'content-type': 'application/json' };

describe('http', () => {
  it('asks /api/* for the token, not /healthz or /metrics', async () => {
    const r = await fetch(`${base}/api/streams`);
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: 'FS_ERR_AUTH' });
    expect((await fetch(`${base}/api/streams?token=secret-token`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('facestream_up 1\n');
  });

  it('answers errors as {error, code}: 404, 405 with Allow, 415, 413, 409, 403 for a foreign origin', async () => {
    expect(await (await fetch(`${base}/nope`)).json()).toEqual({ error: 'no route /nope', code: 'FS_ERR_NOT_FOUND' });
    const m = await fetch(`${base}/api/streams`, { method: 'PUT', headers: auth });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/api/sources`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415);
    expect((await fetch(`${base}/api/sources`, { method: 'POST', headers: json, body: JSON.stringify({ pad: 'x'.repeat(20_000) }) })).status).toBe(413);
    const taken = await fetch(`${base}/api/sources`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'taken' }) });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toEqual({ error: 'exists', code: 'FS_ERR_SOURCE_EXISTS' });
    expect((await fetch(`${base}/api/sources`, { method: 'POST', headers: { ...json, origin: 'http://evil.example' }, body: '{}' })).status).toBe(403);
    expect(added).toEqual([]);
  });

  it('adds and removes sources; an empty DELETE body with a JSON content type is fine', async () => {
    const r = await fetch(`${base}/api/sources`, { method: 'POST', headers: { ...json, origin: base }, body: JSON.stringify({ name: 'door', url: 'rtsp://h/x' }) });
    expect(r.status).toBe(201);
    expect(added).toEqual([{ name: 'door', url: 'rtsp://h/x' }]);
    expect((await fetch(`${base}/api/sources/door`, { method: 'DELETE', headers: json })).status).toBe(200);
    expect((await fetch(`${base}/api/sources/other`, { method: 'DELETE', headers: auth })).status).toBe(404);
  });

  it('reads times strictly: whole ms or ISO 8601; -5, 1e3 and nonsense are 400', async () => {
    expect(parseTime('from', '1700000000000')).toBe(1_700_000_000_000);
    expect(parseTime('from', '2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    for (const bad of ['-5', '1e3', 'yesterday', '2026-13-45']) expect(() => parseTime('from', bad), bad).toThrow(HttpError);
    const r = await fetch(`${base}/api/stats?from=-5`, { headers: auth });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ code: 'FS_ERR_QUERY' });
    const ok = await (await fetch(`${base}/api/stats?from=1000&to=2000&bucket=60000`, { headers: auth })).json() as { buckets: Array<{ q: unknown }> };
    expect(ok.buckets[0]!.q).toMatchObject({ from: 1000, to: 2000, bucketMs: 60_000 });
  });
  it('CSV fields are quoted when needed and never start a formula', () => {
    expect(['plain', 'a,b', 'say "hi"', '=HYPERLINK("x")', '-1+1', '@cmd', 12, null].map(csvField))
      .toEqual(['plain', '"a,b"', '"say ""hi"""', `"'=HYPERLINK(""x"")"`, "'-1+1", "'@cmd", '12', '']);
  });
});
