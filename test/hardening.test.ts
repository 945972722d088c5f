// Hardening: each case was first reproduced against `facestream start` (issue 22) and is
// checked here against a real process on 127.0.0.1: the request that used to kill it, the
// pipeline path that used to read local files, the credentials that used to leak, ...
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { childPids } from '../lab/proc.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import { pidAlive, rawRequest, video, waitFor, waitForAsync } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-hardening-'));
const PASSWORD = 'Pa55w0rdXYZ';

interface Proc { child: ChildProcess; url: string; err: () => string; exited: Promise<number | null>; stop(): Promise<void> }

async function startProcess(name: string, lines: string[]): Promise<Proc> {
  const config = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(config, lines.join('\n'));
  const child = spawn(process.execPath, [bin, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await Promise.race([
    waitFor(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1], 40_000, `${name} to start`),
    exited.then((code) => { throw new Error(`${name} exited (${code}): ${err}`); }),
  ]);
  return {
    child, url, err: () => err, exited,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
});

const dbFile = path.join(tmp, 'agg.db');
const mainConfig = [
  'rtmp: { port: 0, host: 127.0.0.1 }',
  'http: { port: 0, host: 127.0.0.1 }',
  `storage: { file: ${JSON.stringify(dbFile)}, statsIntervalMs: 1000 }`,
  'maxSources: 4',
  'sources:',
  // a short file played as a camera: it ends after 3 s and must then say nothing more
  `  - { name: short, url: ${JSON.stringify(video('talking-d3.mp4'))}, realtime: true }`,
];

let app: Proc;
beforeAll(async () => { app = await startProcess('main', mainConfig); }, 60_000);
afterAll(async () => {
  await app?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('HTTP cannot be used to crash the process or read local files', () => {
  it('malformed request targets get 400 and the process keeps serving', async () => {
    const port = Number(new URL(app.url).port);
    for (const target of ['//[', '//:99999', '//a:-1/', '//[::1', 'http://[x]/', '%', '/\u0000']) {
      const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer, target).toMatch(/^HTTP\/1\.1 (400|404)/);
    }
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('pipeline names a pipeline of the pipelines folder, never a path; no file content comes back', async () => {
    for (const pipeline of ['/etc/shadow', '/etc/passwd', '../../../etc/passwd', 'x.yaml', '/proc/self/environ']) {
      const r = await post(`${app.url}/api/sources`, { name: 'x', url: 'rtsp://127.0.0.1:9/x', pipeline });
      const text = await r.text();
      expect(r.status, pipeline).toBe(400);
      expect(text).not.toMatch(/root:|daemon:|unknown key/);
    }
    const unknown = await post(`${app.url}/api/sources`, { name: 'x', url: 'rtsp://127.0.0.1:9/x', pipeline: 'nosuch' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('known pipelines');
  });

  it('a POST another web page could send (text/plain, a form) or from another origin is refused', async () => {
    const body = JSON.stringify({ name: 'csrf', url: 'rtsp://127.0.0.1:9/x' });
    const plain = await fetch(`${app.url}/api/sources`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(plain.status).toBe(415);
    const foreign = await post(`${app.url}/api/sources`, body, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const streams = (await (await fetch(`${app.url}/api/streams`)).json()) as { streams: Array<{ name: string }> };
    expect(streams.streams.map((s) => s.name)).not.toContain('csrf');
  });

  it('only network schemes over HTTP, names from a safe alphabet, at most maxSources', async () => {
    for (const url of ['file:///etc/passwd', '/etc/passwd', 'gopher://127.0.0.1/x', 'concat:/etc/passwd', 'ftp://127.0.0.1/x', 'rtsp:///nohost']) {
      expect((await post(`${app.url}/api/sources`, { name: 'bad', url })).status, url).toBe(400);
    }
    for (const name of ['.', '..', 'a/b', 'a b', 'x'.repeat(65), '']) {
      expect((await post(`${app.url}/api/sources`, { name, url: 'rtsp://127.0.0.1:9/x' })).status, name).toBe(400);
    }
    // the config has one source; maxSources is 4
    const added: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await post(`${app.url}/api/sources`, { name: `cap${i}`, url: 'rtsp://127.0.0.1:9/x' });
      expect(r.status).toBe(201);
      added.push(`cap${i}`);
    }
    const over = await post(`${app.url}/api/sources`, { name: 'cap3', url: 'rtsp://127.0.0.1:9/x' });
    expect(over.status).toBe(429);
    for (const n of added) expect((await fetch(`${app.url}/api/sources/${n}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('an oversized body gets 413, a negative or malformed time 400', async () => {
    const big = await post(`${app.url}/api/sources`, JSON.stringify({ name: 'big', url: 'rtsp://h/x', pad: 'x'.repeat(100_000) }));
    expect(big.status).toBe(413);
    for (const q of ['from=-5', 'from=abc', 'to=2024-13-45', 'from=1e3', 'bucket=-60000']) {
      expect((await fetch(`${app.url}/api/stats?${q}`)).status, q).toBe(400);
    }
    expect((await fetch(`${app.url}/api/stats?from=2026-01-01T00:00:00Z`)).status).toBe(200);
  });
});

describe('camera credentials never leave the process', () => {
  it('redacted in events, REST, socket.io, logs and metrics', async () => {
    const client = io(app.url, { transports: ['websocket'], reconnection: false });
    const events: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => events.push(e));
    try {
      await client.emitWithAck('subscribe', '*');
      const cam = `rtsp://admin:${PASSWORD}@127.0.0.1:9/cam?token=${PASSWORD}2`;
      const r = await post(`${app.url}/api/sources`, { name: 'secretcam', url: cam });
      const created = await r.text();
      expect(r.status, created).toBe(201);
      await waitFor(() => events.some((e) => e.stream === 'secretcam' && e.type === 'stream.restarting'), 20_000, 'a failed connection');
      const texts = [
        created, JSON.stringify(events),
        await (await fetch(`${app.url}/api/streams`)).text(),
        await (await fetch(`${app.url}/api/events`)).text(),
        await (await fetch(`${app.url}/metrics`)).text(),
        app.err(),
      ];
      for (const t of texts) expect(t).not.toContain(PASSWORD);
      const listed = ((await (await fetch(`${app.url}/api/streams`)).json()) as { streams: Array<{ name: string; uri: string; state: string; reason?: string }> })
        .streams.find((s) => s.name === 'secretcam');
      expect(listed?.uri).toBe('rtsp://***@127.0.0.1:9/cam?token=***');
      expect(listed?.state).toMatch(/restarting|starting|stalled/);
      expect((await fetch(`${app.url}/api/sources/secretcam`, { method: 'DELETE' })).status).toBe(200);
    } finally {
      client.close();
    }
  });
});

describe('socket.io', () => {
  it('refuses a foreign Origin, takes its own; bounds subscriptions; forgets them on disconnect; counts oversized messages', async () => {
    const refused = io(app.url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: 'http://evil.example' } });
    const err = await new Promise<string>((r) => { refused.on('connect_error', (e) => r(e.message)); refused.on('connect', () => r('connected')); });
    refused.close();
    expect(err).not.toBe('connected');
    const own = io(app.url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: app.url } });
    await new Promise<void>((r, j) => { own.on('connect', () => r()); own.on('connect_error', j); });
    own.close();

    const metric = async (name: string) => Number(new RegExp(`^facestream_${name} (\\d+)`, 'm').exec(await (await fetch(`${app.url}/metrics`)).text())?.[1]);
    const base = await metric('socket_subscribed_streams');
    const clients = Array.from({ length: 4 }, () => io(app.url, { transports: ['websocket'], reconnection: false }));
    try {
      for (const [i, c] of clients.entries()) {
        const names = Array.from({ length: 64 }, (_, k) => `live/c${i}-n${k}`);
        expect(await c.emitWithAck('subscribe', { streams: names })).toMatchObject({ ok: true });
        expect((await c.emitWithAck('subscribe', { streams: [`live/c${i}-one-more`] })).ok).toBe(false);
        expect((await c.emitWithAck('subscribe', { streams: ['x'.repeat(129)] })).ok).toBe(false);
      }
      expect(await metric('socket_subscribed_streams')).toBe(base + 256);
      await clients[0]!.emitWithAck('unsubscribe', { streams: Array.from({ length: 64 }, (_, k) => `live/c0-n${k}`) });
      expect(await metric('socket_subscribed_streams')).toBe(base + 192);
    } finally {
      for (const c of clients) c.close();
    }
    await waitForAsync(async () => (await metric('socket_subscribed_streams')) === base, 5000, 'subscriptions to be forgotten');

    const before = await metric('socket_oversized_messages_total');
    const big = io(app.url, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((r) => big.on('connect', () => r()));
    const gone = new Promise<void>((r) => big.on('disconnect', () => r()));
    big.emit('subscribe', { streams: ['x'], pad: 'y'.repeat(100_000) });
    await gone;
    await waitForAsync(async () => (await metric('socket_oversized_messages_total')) === before + 1, 5000, 'the oversized message to be counted');
  });
});

describe('streams', () => {
  it('an ended source stops emitting stats but stays listed', async () => {
    const client = io(app.url, { transports: ['websocket'], reconnection: false });
    const stats: number[] = [];
    client.on('event', (e: FacestreamEvent) => { if (e.type === 'stats' && e.stream === 'short') stats.push(Date.now()); });
    try {
      await client.emitWithAck('subscribe', { streams: ['short'] });
      await waitForAsync(async () => {
        const s = ((await (await fetch(`${app.url}/api/streams`)).json()) as { streams: Array<{ name: string; state: string }> }).streams;
        return s.find((x) => x.name === 'short')?.state === 'ended';
      }, 60_000, 'the short source to end');
      const at = Date.now();
      await new Promise((r) => setTimeout(r, 3000));
      expect(stats.filter((t) => t > at + 200)).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('sources added at run time survive a restart; deleted ones do not come back', async () => {
    const db = path.join(tmp, 'restart.db');
    const lines = ['rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }', `storage: { file: ${JSON.stringify(db)} }`];
    const first = await startProcess('restart1', lines);
    expect((await post(`${first.url}/api/sources`, { name: 'door', url: 'rtsp://127.0.0.1:9/door' })).status).toBe(201);
    expect((await post(`${first.url}/api/sources`, { name: 'gone', url: 'rtsp://127.0.0.1:9/gone' })).status).toBe(201);
    expect((await fetch(`${first.url}/api/sources/gone`, { method: 'DELETE' })).status).toBe(200);
    await first.stop();
    expect(fs.statSync(db).mode & 0o077).toBe(0); // the operator's eyes only
    const second = await startProcess('restart2', lines);
    try {
      const names = ((await (await fetch(`${second.url}/api/streams`)).json()) as { streams: Array<{ name: string }> }).streams.map((s) => s.name);
      expect(names).toEqual(['door']);
    } finally {
      await second.stop();
    }
  });

  it('kill -9 leaves no node-media-server folder behind once the next process starts', async () => {
    const lines = ['rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }', `storage: { file: ${JSON.stringify(path.join(tmp, 'k.db'))} }`];
    const victim = await startProcess('victim', lines);
    const pid = victim.child.pid!;
    const mine = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`facestream-nms-${pid}-`));
    expect(mine().length).toBe(1);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(mine().length).toBe(1);
    const next = await startProcess('next', lines);
    try {
      expect(mine()).toEqual([]);
    } finally {
      await next.stop();
    }
  });

  it('a non-loopback listener without a token refuses to start; a token or http.anonymous allows it; loopback by default', async () => {
    const config = path.join(tmp, 'open.yaml');
    fs.writeFileSync(config, 'http: { port: 0, host: 0.0.0.0 }\nrtmp: { port: 0, host: 127.0.0.1 }\nstorage: { file: ":memory:" }\n');
    const child = spawn(process.execPath, [bin, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FACESTREAM_TOKEN: '' } });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('http.anonymous');
    // the operator's explicit choices (not started here: tests listen on 127.0.0.1 only)
    const { parseAppConfig } = await import('../src/config.ts');
    const saved = process.env.FACESTREAM_TOKEN;
    delete process.env.FACESTREAM_TOKEN;
    try {
      expect(() => parseAppConfig({ http: { host: '0.0.0.0' } }, 't')).toThrow(/http\.anonymous/);
      expect(parseAppConfig({ http: { host: '0.0.0.0', anonymous: true } }, 't').http.anonymous).toBe(true);
      expect(parseAppConfig({ http: { host: '0.0.0.0', token: 'long-enough' } }, 't').http.host).toBe('0.0.0.0');
      expect(parseAppConfig({}, 't').http.host).toBe('127.0.0.1');
    } finally {
      if (saved != null) process.env.FACESTREAM_TOKEN = saved;
    }
  });
});

describe('a killed decoder', () => {
  it('restarts with the reason "decoder killed by SIGKILL", not a stale stderr line', async () => {
    const lines = ['rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }', `storage: { file: ${JSON.stringify(path.join(tmp, 'kd.db'))} }`,
      'sources:', `  - { name: cam, url: ${JSON.stringify(video('talking-d6.mp4'))}, realtime: true }`];
    const p = await startProcess('killed', lines);
    const client = io(p.url, { transports: ['websocket'], reconnection: false });
    const events: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => events.push(e));
    try {
      await client.emitWithAck('subscribe', { streams: ['cam'] });
      await waitForAsync(async () => ((await (await fetch(`${p.url}/api/streams`)).json()) as { streams: Array<{ frames: number }> }).streams[0]!.frames > 2, 20_000, 'frames');
      const ffmpeg = await waitFor(() => childPids(p.child.pid!, 'ffmpeg').find((x) => pidAlive(x)), 5000, 'the decoder');
      expect(events.filter((e) => e.type === 'stream.restarting'), p.err()).toEqual([]);
      process.kill(ffmpeg, 'SIGKILL');
      const restarting = await waitFor(() => events.find((e) => e.type === 'stream.restarting'), 10_000, 'a restart') as { reason: string };
      expect(restarting.reason).toBe('decoder killed by SIGKILL');
      await waitFor(() => childPids(p.child.pid!, 'ffmpeg').some((x) => x !== ffmpeg && pidAlive(x)), 10_000, 'a new decoder');
    } finally {
      client.close();
      await p.stop();
    }
  });
});

describe('retention', () => {
  it('SQLite prunes rows past the retention while running, not only at start-up', async () => {
    const { AggregateStore } = await import('../src/events/store.ts');
    const file = path.join(tmp, 'retention.db');
    const store = new AggregateStore({ file, retentionDays: 1, pruneIntervalMs: 200 });
    try {
      const db = new Database(file);
      const old = Date.now() - 3 * 86_400_000;
      db.prepare('INSERT INTO aggregates (stream, bucket, people) VALUES (?, ?, 1)').run('s', Math.floor(old / 60_000) * 60_000);
      db.prepare('INSERT INTO aggregates (stream, bucket, people) VALUES (?, ?, 1)').run('s', Math.floor(Date.now() / 60_000) * 60_000);
      await waitFor(() => (db.prepare('SELECT COUNT(*) n FROM aggregates').get() as { n: number }).n === 1, 5000, 'the old row to go');
      db.close();
    } finally {
      store.close();
    }
  });
});

describe('published streams', () => {
  it('cold start, two OBS-like publishers at once (x264 defaults, 10 s keyframes): both listed from the start and analysed while they publish', async () => {
    const lines = ['rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }', `storage: { file: ${JSON.stringify(path.join(tmp, 'pub.db'))} }`];
    const p = await startProcess('published', lines);
    const rtmp = Number(/publish to rtmp:\/\/127\.0\.0\.1:(\d+)\//.exec(p.err())![1]);
    const client = io(p.url, { transports: ['websocket'], reconnection: false });
    const events: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => events.push(e));
    const pubs: Publisher[] = [];
    type Listed = { name: string; state: string; frames: number; restarts: number };
    const listed = async () => ((await (await fetch(`${p.url}/api/streams`)).json()) as { streams: Listed[] }).streams;
    try {
      await client.emitWithAck('subscribe', '*');
      for (const [name, clip] of [['a', 'talking-d6.mp4'], ['b', 'talking-d9.mp4']] as const) {
        pubs.push(publish(video(clip), `rtmp://127.0.0.1:${rtmp}/live/${name}`, { loop: true, encoder: 'obs' }));
      }
      await waitForAsync(async () => (await listed()).length === 2, 10_000, 'both streams to be listed');
      await waitForAsync(async () => (await listed()).every((s) => s.frames > 5), 60_000, 'frames on both streams');
      // the decoder of one dies mid-GOP: the stream stays listed, restarts and goes on
      const ffmpegs = childPids(p.child.pid!, 'ffmpeg').filter(pidAlive);
      expect(ffmpegs.length).toBe(2);
      process.kill(ffmpegs[0]!, 'SIGKILL');
      await waitFor(() => events.some((e) => e.type === 'stream.restarting'), 10_000, 'a restart');
      expect((await listed()).length).toBe(2);
      const before = Object.fromEntries((await listed()).map((s) => [s.name, s.frames]));
      try {
        await waitForAsync(async () => (await listed()).every((s) => s.frames > before[s.name]! + 5), 40_000, 'frames on both after the restart');
      } catch (err) {
        // what the streams and the process said, to tell a slow machine from a stuck stream
        throw new Error(`${(err as Error).message}: before ${JSON.stringify(before)}, now ${JSON.stringify(await listed())}, ` +
          `stream events ${JSON.stringify(events.filter((e) => e.type.startsWith('stream.')))}, log tail ${p.err().slice(-1500)}`);
      }
      expect(events.filter((e) => e.type === 'stream.ended'), JSON.stringify(events.filter((e) => e.type.startsWith('stream.')))).toEqual([]);
      expect(events.some((e) => e.type === 'track.started')).toBe(true);
      // the publisher leaving is what ends the analysis
      await pubs[0]!.stop();
      await waitForAsync(async () => (await listed()).length === 1, 10_000, 'the stream to leave the list');
      // its stream.ended travels over socket.io, the list over HTTP: either may come first
      await waitFor(() => events.some((e) => e.type === 'stream.ended'), 5000, 'stream.ended of live/a');
      expect(events.filter((e) => e.type === 'stream.ended').map((e) => e.stream)).toEqual(['live/a']);
    } finally {
      client.close();
      await Promise.all(pubs.map((x) => x.stop()));
      await p.stop();
    }
  });

  it('with a publish secret, playing the raw video needs a signature too; facestream signs its own decoder', async () => {
    const secret = 'play-secret-123';
    const lines = [`rtmp: { port: 0, host: 127.0.0.1, publishSecret: ${secret} }`, 'http: { port: 0, host: 127.0.0.1 }', `storage: { file: ${JSON.stringify(path.join(tmp, 'sec.db'))} }`];
    const p = await startProcess('secret', lines);
    const rtmp = Number(/publish to rtmp:\/\/127\.0\.0\.1:(\d+)\//.exec(p.err())![1]);
    const { signPublishUrl } = await import('../plugins/node-media-server/server.ts');
    const url = `rtmp://127.0.0.1:${rtmp}/live/sec`;
    const pub = publish(video('talking-d6.mp4'), signPublishUrl(url, secret), { loop: true, encoder: 'fast' });
    try {
      await waitForAsync(async () => ((await (await fetch(`${p.url}/api/streams`)).json()) as { streams: Array<{ frames: number }> }).streams[0]?.frames! > 3, 40_000, 'facestream to analyse the stream');
      const { findFfmpeg } = await import('../src/ingest/ffmpeg-path.ts');
      const play = (u: string) => new Promise<number | null>((r) => {
        const c = spawn(findFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', u, '-frames:v', '1', '-f', 'null', '-'], { stdio: 'ignore' });
        c.once('exit', r);
      });
      expect(await play(url)).not.toBe(0);
      expect(await play(signPublishUrl(url, secret))).toBe(0);
      expect(p.err()).not.toMatch(/sign=\d/);
    } finally {
      await pub.stop();
      await p.stop();
    }
  });
});
