import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { video, waitFor } from './helpers.ts';

const TOKEN = 'test-token-123';
const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-socket-')), 'agg.db');
const config = () => parseAppConfig({
  rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1', token: TOKEN },
  storage: { file: dbFile, statsIntervalMs: 1000 }, pipeline: 'default',
}, 'test');
let app: App;
const clients: Socket[] = [];
let pub: Publisher | undefined;

beforeAll(async () => {
  app = await startApp(config());
});

afterAll(async () => {
  for (const c of clients) c.close();
  await pub?.stop();
  await app?.stop();
});

function client(token?: string): Socket {
  const c = connect(`http://127.0.0.1:${app.httpPort}`, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false });
  clients.push(c);
  return c;
}

describe('socket.io and the API', () => {
  it('serves the dashboard and its local assets only: no path leaves the allow-list', async () => {
    const base = `http://127.0.0.1:${app.httpPort}`;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>facestream</h1>');
    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toContain('javascript');
    // bundled with facestream/client (and socket.io-client in it)
    expect(await js.text()).toMatch(/emit\("subscribe"/);
    for (const asset of ['/style.css', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css']) {
      expect((await fetch(`${base}${asset}`)).status, asset).toBe(200);
    }
    for (const bad of ['/%2e%2e/package.json', '/vendor/..%2f..%2fpackage.json', '/dashboard/app.ts', '/..%5c..%5cpackage.json', '/vendor/%2e%2e/%2e%2e/src/config.ts']) {
      expect((await fetch(`${base}${bad}`)).status, bad).toBe(404);
    }
  });

  it('POST and DELETE /api/sources add and remove a pulled camera without a restart', async () => {
    const base = `http://127.0.0.1:${app.httpPort}/api/sources`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const post = (body: unknown) => fetch(base, { method: 'POST', headers, body: JSON.stringify(body) });
    const created = await post({ name: 'door', url: 'rtsp://127.0.0.1:9/door' });
    expect(created.status).toBe(201);
    expect((await created.json()).stream).toMatchObject({ name: 'door', kind: 'pulled' });
    expect((await post({ name: 'door', url: 'rtsp://127.0.0.1:9/other' })).status).toBe(409);
    const bad = await post({ name: 'x', url: 'rtsp://h/x', pipline: 'default' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain('unknown key "pipline"');
    expect((await post({ name: 'y', url: '/etc/passwd' })).status).toBe(400);
    expect((await fetch(`${base}/door`, { method: 'DELETE', headers })).status).toBe(200);
    expect((await fetch(`${base}/door`, { method: 'DELETE', headers })).status).toBe(404);
    expect(app.pulled.has('door')).toBe(false);
  });

  it('a client without the token is refused; the API asks for it too', async () => {
    const c = client('wrong-token');
    const err = await new Promise<Error>((resolve) => c.on('connect_error', resolve));
    expect(err.message).toMatch(/unauthorized/);
    expect(app.socket.stats.refused).toBeGreaterThanOrEqual(1);
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/api/streams`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${app.httpPort}/api/streams`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).status).toBe(200);
  });

  it('hostile payloads: wrong types, a huge message, unknown events, a flood; refused and counted, others unaffected', async () => {
    const good = client(TOKEN);
    await new Promise<void>((resolve) => good.on('connect', () => resolve()));
    const evil = client(TOKEN);
    await new Promise<void>((resolve) => evil.on('connect', () => resolve()));
    const invalidBefore = app.socket.stats.invalid;
    for (const payload of [null, 42, 'x'.repeat(300), { streams: 'live/a' }, { streams: [] }, { streams: Array(101).fill('a') }, { streams: ['../../etc'] }, { streams: [{}] }]) {
      const ack = await evil.emitWithAck('subscribe', payload);
      expect(ack.ok, JSON.stringify(payload).slice(0, 80)).toBe(false);
      expect(ack.error).toMatch(/expected/);
    }
    for (let i = 0; i < 200; i++) evil.emit(`unknown-${i}`, { i });
    const disconnected = new Promise<string>((resolve) => evil.on('disconnect', (reason) => resolve(reason)));
    evil.emit('subscribe', { streams: ['a'.repeat(64 * 1024)] }); // over the 16 KiB message bound
    expect(await disconnected).toMatch(/transport close|io server disconnect|transport error/);
    await waitFor(() => app.socket.stats.invalid - invalidBefore >= 208, 5000, 'the refused messages counted');
    // the well-behaved client and the server go on
    expect(await good.emitWithAck('subscribe', { streams: ['live/other'] })).toEqual({ ok: true, streams: ['live/other'] });
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).status).toBe(200);
  });

  it('a subscribed client receives the stream and track events of a published stream', async () => {
    const c = client(TOKEN);
    const got: FacestreamEvent[] = [];
    c.on('event', (e: FacestreamEvent) => got.push(e));
    await new Promise<void>((resolve) => c.on('connect', () => resolve()));
    const ack = await c.emitWithAck('subscribe', { streams: ['live/cam'] });
    expect(ack).toEqual({ ok: true, streams: ['live/cam'] });
    const bad = await c.emitWithAck('subscribe', { streams: [42] });
    expect(bad.ok).toBe(false);
    c.emit('no-such-message', { x: 1 });
    pub = publish(video('talking-d3.mp4'), `rtmp://127.0.0.1:${app.rtmpPort}/live/cam`, { loop: true, reencode: true });
    await waitFor(() => got.find((e) => e.type === 'track.started'), 30_000, 'track.started');
    expect(got[0]).toMatchObject({ type: 'stream.started', stream: 'live/cam' });
    expect(got.every((e) => e.stream === 'live/cam')).toBe(true);
    expect(app.socket.stats.invalid).toBeGreaterThanOrEqual(2);
    // /metrics parses as Prometheus text and counts this stream
    const text = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const l of samples) expect(l).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+]+$/);
    expect(text).toMatch(/# TYPE facestream_latency_seconds histogram/);
    const frames = /facestream_frames_total\{stream="live\/cam"\} (\d+)/.exec(text);
    expect(Number(frames?.[1])).toBeGreaterThan(0);
    const stoppedAt = Date.now();
    await pub.stop();
    const trackEnded = await waitFor(() => got.find((e) => e.type === 'track.ended'), 10_000, 'track.ended');
    expect(Date.now() - stoppedAt).toBeLessThan(5000); // within seconds of the stream ending
    await waitFor(() => got.find((e) => e.type === 'stream.ended'), 10_000, 'stream.ended');
    // the track's smoothed attributes, with confidence and grade
    const a = (trackEnded as { attributes?: { gender?: { value: string; grade: string; confidence: number } } }).attributes;
    expect(['male', 'female']).toContain(a?.gender?.value);
    expect(a?.gender?.grade).toMatch(/^[SABCD]$/);
    const stats = got.filter((e) => e.type === 'stats');
    expect(stats.length).toBeGreaterThanOrEqual(1);
    expect(stats[0]).toMatchObject({ stream: 'live/cam' });
  });

  it('REST returns the stored aggregates after a server restart, and refuses bad queries', async () => {
    await app.stop();
    app = await startApp(config());
    const get = (q: string) => fetch(`http://127.0.0.1:${app.httpPort}/api/stats?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const r = await (await get('stream=live/cam&bucket=3600000')).json();
    expect(r.buckets.reduce((n: number, b: { people: number }) => n + b.people, 0)).toBeGreaterThanOrEqual(1);
    expect((await get('bucket=5')).status).toBe(400);
    expect((await get('from=yesterday')).status).toBe(400);
    expect((await get('from=2000&to=1000')).status).toBe(400);
  });

  it('the live view is off by default: a watch is refused with the setting to change, no frame is encoded, /api/tracks lists no thumbnail', async () => {
    const c = client(TOKEN);
    await new Promise<void>((r) => c.on('connect', () => r()));
    const ack = await new Promise<{ ok: boolean; error?: string }>((r) => c.emit('watch', { stream: 'live/x' }, r));
    expect(ack).toEqual({ ok: false, error: expect.stringMatching(/dashboard\.video/) });
    const info = await (await fetch(`http://127.0.0.1:${app.httpPort}/api/info`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { features: object };
    expect(info.features).toEqual({ video: false, tracks: true, snapshots: false });
    const rows = await (await fetch(`http://127.0.0.1:${app.httpPort}/api/tracks`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { tracks: Array<{ snapshot: boolean }> };
    expect(rows.tracks.every((t) => !t.snapshot)).toBe(true);
    for (const q of ['grade=Z', 'gender=other', 'limit=0', 'limit=abc', 'ageGroup=teen', 'from=yesterday']) {
      expect((await fetch(`http://127.0.0.1:${app.httpPort}/api/tracks?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, q).toBe(400);
    }
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/api/tracks/..%2f..%2fetc/snapshot.jpg?stream=live/x`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/api/tracks/1-1/snapshot.jpg`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/api/tracks/1-1/snapshot.jpg?stream=live/x`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });
});
