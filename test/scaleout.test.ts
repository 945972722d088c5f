import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PgStore } from '../src/events/pgstore.ts';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/app.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import { STREAM_KEY_PREFIX } from '../src/events/bus.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { startNodeProcess, startPostgresServer, video, waitFor, waitForAsync, type NodeProcess } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-scaleout-'));
const procs: ChildProcess[] = [];
let redisPort = 0;
let redisUrl = '';
let pgUrl = '';
let pgCtl: (action: 'start' | 'stop') => void;

async function startPostgres(): Promise<void> {
  const pgs = await startPostgresServer();
  pgUrl = pgs.url;
  pgCtl = pgs.ctl;
  procs.push({ exitCode: null, signalCode: null, kill: () => { try { pgCtl('stop'); } catch { /* already stopped */ } } } as unknown as ChildProcess);
}

type Node = NodeProcess;

function startNode(id: string): Promise<Node> {
  return startNodeProcess(id, [
    'rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }',
    `node: { id: ${id} }`, `bus: { kind: redis, url: ${JSON.stringify(redisUrl)} }`,
    `storage: { kind: postgres, url: ${JSON.stringify(pgUrl)}, statsIntervalMs: 1000 }`,
  ], { dir: tmp, procs, timeoutMs: 60_000 });
}

let redis: ChildProcess;
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(redis);
  let out = '';
  redis.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  redis.on('error', (e) => { out += `spawn failed: ${e.message} (apt-get install -y redis-server)`; });
  await waitFor(() => /Ready to accept connections/.test(out) || /spawn failed/.test(out), 10_000, 'redis-server');
  expect(out).toMatch(/Ready to accept connections/);
}

beforeAll(async () => {
  redisPort = await freePort();
  redisUrl = `redis://127.0.0.1:${redisPort}`;
  await startRedis();
  await startPostgres();
  // three nodes migrating a fresh database at the same moment (#28): the advisory lock lets
  // each through in turn (without it one failed with a duplicate pg_type key)
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE fresh');
  await admin.end();
  const fresh = pgUrl.replace(/\/postgres$/, '/fresh');
  const stores = await Promise.all([1, 2, 3].map((i) => PgStore.open({ url: fresh, node: `m${i}` })));
  for (const st of stores) await st.close();
}, 60_000);

afterAll(async () => {
  for (const p of procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('two nodes on Redis and PostgreSQL', () => {
  it('A\'s events reach B\'s client and a Redis Stream (read once by a consumer group across a restart); B answers A\'s stats; PostgreSQL and Redis restarts lose no aggregate; A dying leaves B\'s list within 10 s', async () => {
    const [a, b] = [await startNode('node-a'), await startNode('node-b')];
    const client: Socket = io(b.http, { transports: ['websocket'], reconnection: false });
    const got: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => got.push(e));
    await new Promise<void>((r) => client.on('connect', () => r()));
    expect(await client.emitWithAck('subscribe', '*')).toMatchObject({ ok: true });
    let pub: Publisher | undefined = publish(video('talking-d6.mp4'), `rtmp://127.0.0.1:${a.rtmpPort}/live/hall`, { reencode: true, loop: true });
    try {
      await waitFor(() => got.find((e) => e.type === 'track.started' && e.stream === 'live/hall'), 60_000, 'a track of node A at node B\'s client');
      expect(got.find((e) => e.type === 'stream.started')).toMatchObject({ stream: 'live/hall' });
      // B lists A's stream, with its owner
      const listed = async () => ((await (await fetch(`${b.http}/api/streams`)).json()) as { streams: Array<{ name: string; owner: string }> }).streams;
      await waitForAsync(async () => (await listed()).some((s) => s.name === 'live/hall'), 10_000, 'A\'s stream on B');
      expect((await listed()).find((s) => s.name === 'live/hall')).toMatchObject({ owner: 'node-a' });
      expect(await (await fetch(`${a.http}/metrics`)).text()).toMatch(/^facestream_bus_connected 1$/m);

      // a camera added on B is the cluster's (#28): pulled by exactly one node, listed with its
      // owner by both, removed from A
      const added = await fetch(`${b.http}/api/sources`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'relay', url: `rtmp://127.0.0.1:${a.rtmpPort}/live/hall` }) });
      expect(added.status).toBe(201);
      await waitFor(() => got.find((e) => e.stream === 'relay' && e.type === 'stream.format'), 60_000, 'the pulled camera analysed');
      const sources = async (n: Node) => ((await (await fetch(`${n.http}/api/sources`)).json()) as { sources: Array<{ name: string; owner: string | null; state: string }> }).sources;
      const owner = (await sources(a)).find((x) => x.name === 'relay')?.owner;
      expect(owner).toMatch(/^node-[ab]$/);
      expect((await sources(b)).find((x) => x.name === 'relay')).toMatchObject({ owner, state: 'live' });
      // one decoder reads the camera for the relay, beside A's own for the published stream
      const readers = spawnSync('pgrep', ['-f', `ffmpeg.*-i rtmp://127.0.0.1:${a.rtmpPort}/live/hall`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
      expect(readers).toHaveLength(2);
      expect(got.filter((e) => e.stream === 'relay' && e.type === 'stream.started')).toHaveLength(1);
      expect((await fetch(`${a.http}/api/sources/relay`, { method: 'DELETE' })).status).toBe(200);
      await waitFor(() => got.find((e) => e.stream === 'relay' && e.type === 'stream.ended'), 20_000, 'the camera stopped by its owner');
      expect((await sources(b)).find((x) => x.name === 'relay')).toBeUndefined();

      // a consumer group reads the camera's events durably: part, a restart, the rest; each once
      const key = `${STREAM_KEY_PREFIX}live/hall`;
      const r1 = new Redis(redisUrl);
      await r1.xgroup('CREATE', key, 'integrator', '0');
      const seen: string[] = [];
      const read = async (r: Redis, count: number, from = '>') => {
        const res = (await r.xreadgroup('GROUP', 'integrator', 'c1', 'COUNT', count, 'STREAMS', key, from)) as Array<[string, Array<[string, string[]]>]> | null;
        const entries = res?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          expect(JSON.parse(fields[1]!).stream).toBe('live/hall');
          seen.push(id);
          await r.xack(key, 'integrator', id);
        }
        return entries.length;
      };
      await read(r1, 3);
      r1.disconnect(); // the consumer goes away...
      await pub.stop();
      pub = undefined;
      await waitFor(() => got.find((e) => e.type === 'stream.ended' && e.stream === 'live/hall'), 40_000, 'the stream to end');
      await new Promise((r) => setTimeout(r, 1000));
      const r2 = new Redis(redisUrl); // ...and comes back: pending first (none: all acked), then the rest
      await read(r2, 1000, '0');
      while ((await read(r2, 100)) > 0) { /* drain */ }
      const total = await r2.xlen(key);
      expect(seen.length).toBe(total);
      expect(new Set(seen).size).toBe(total);
      r2.disconnect();

      // aggregates of A's stream, stored in the shared PostgreSQL, answered by B
      const people = async (stream: string) => ((await (await fetch(`${b.http}/api/stats?stream=${encodeURIComponent(stream)}`)).json()) as { buckets: Array<{ people: number }> })
        .buckets.reduce((n, x) => n + x.people, 0);
      const ended = (stream: string) => got.filter((e) => e.type === 'track.ended' && e.stream === stream).length;
      expect(ended('live/hall')).toBeGreaterThanOrEqual(1);
      await waitForAsync(async () => (await people('live/hall')) === ended('live/hall'), 10_000, 'B\'s stats to count A\'s tracks');

      // PostgreSQL restarts while tracks end: none is lost
      pgCtl('stop');
      pub = publish(video('talking-d3.mp4'), `rtmp://127.0.0.1:${a.rtmpPort}/live/lobby`, { reencode: true });
      await waitFor(() => got.find((e) => e.type === 'stream.ended' && e.stream === 'live/lobby'), 60_000, 'the lobby stream to end');
      pub = undefined;
      expect(ended('live/lobby')).toBeGreaterThanOrEqual(1);
      pgCtl('start');
      await waitForAsync(async () => (await people('live/lobby').catch(() => -1)) === ended('live/lobby'), 15_000, 'the tracks that waited to be stored');

      // Redis restarts (its data gone: no persistence here): the nodes reconnect, and events flow again
      const redisDown = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGKILL');
      await redisDown;
      await startRedis();
      await waitForAsync(async () => /^facestream_bus_connected 1$/m.test(await (await fetch(`${a.http}/metrics`)).text()), 15_000, 'A to reconnect to Redis');
      const before = got.length;
      pub = publish(video('talking-d3.mp4'), `rtmp://127.0.0.1:${a.rtmpPort}/live/stairs`, { reencode: true });
      await waitFor(() => got.slice(before).find((e) => e.type === 'stream.ended' && e.stream === 'live/stairs'), 60_000, 'events of a stream after the Redis restart');
      pub = undefined;
      await waitForAsync(async () => (await people('live/stairs')) === ended('live/stairs'), 10_000, 'its tracks stored');
      expect(await people('live/hall')).toBe(ended('live/hall')); // nothing stored before was lost
      expect(await people('live/lobby')).toBe(ended('live/lobby'));

      // node A dies: its stream leaves B's list within 10 s
      pub = publish(video('talking-d6.mp4'), `rtmp://127.0.0.1:${a.rtmpPort}/live/door`, { reencode: true, loop: true });
      await waitForAsync(async () => (await listed()).some((s) => s.name === 'live/door'), 30_000, 'the second stream on B');
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      await waitForAsync(async () => !(await listed()).some((s) => s.owner === 'node-a'), 10_000, 'A\'s streams to leave B\'s list');
      expect(Date.now() - killedAt).toBeLessThan(10_000);
    } finally {
      await pub?.stop();
      client.close();
    }
  }, 300_000);

  it('PostgreSQL keeps the review rows like SQLite: filters, the thumbnail written with its batch, deleted with its row', async () => {
    const st = await PgStore.open({ url: pgUrl.replace(/\/postgres$/, '/fresh'), node: 'review' });
    try {
      const t = Date.now();
      const cls = (value: string, grade: 'S' | 'C' = 'S') => ({ value, probability: 0.9, confidence: 0.9, grade, frames: 5 });
      const track = (n: number, gender: string, ageGrade: 'S' | 'C') => ({
        id: `${t - 1000 * n}-0`, v: 1 as const, stream: 'live/pg', ts: t - 1000 * n, type: 'track.ended' as const, trackId: n, ptsMs: 0, firstSeenMs: 0, lastSeenMs: 100,
        dwellMs: 100, frames: 3, flags: [], attributes: { gender: cls(gender), ageGroup: cls('youth', ageGrade), age: 22, celeba: {} },
      });
      st.addTrack(track(1, 'female', 'S'));
      st.addTrack(track(2, 'male', 'C'));
      st.addSnapshot('live/pg', track(2, 'male', 'C').id, Buffer.from([0xff, 0xd8, 7]));
      expect(await st.retry()).toBe(true);
      expect((await st.tracks({ stream: 'live/pg' })).map((r) => [r.trackId, r.grade, r.snapshot])).toEqual([[1, 'S', false], [2, 'C', true]]);
      expect((await st.tracks({ stream: 'live/pg', grade: 'A' })).map((r) => r.trackId)).toEqual([1]);
      expect((await st.tracks({ stream: 'live/pg', gender: 'male' }))[0]).toMatchObject({ id: track(2, 'male', 'C').id, gender: { value: 'male', grade: 'S' }, age: 22 });
      expect(await st.snapshot('live/pg', track(2, 'male', 'C').id)).toEqual(Buffer.from([0xff, 0xd8, 7]));
      expect(await st.deleteTrack('live/pg', track(2, 'male', 'C').id)).toBe(true);
      expect(await st.snapshot('live/pg', track(2, 'male', 'C').id)).toBeUndefined();
    } finally {
      await st.close();
    }
  });
});
