/**
 * What an integrator relies on (#27), against real processes: a running app with a camera
 * added over REST, the typed client (src/client) that is disconnected mid-stream and
 * resumes with no loss and no duplicate, /api/events paged by cursor, the events' JSON
 * Schema checked on every event of the clip, OpenAPI, CORS, and an MQTT subscriber on a
 * real broker (Debian's mosquitto, started here on a free port of 127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import mqtt from 'mqtt';
import { startApp, freePort, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { connect, type FacestreamClient, type SubscribeAck } from '../src/client/index.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { EventIds, compareEventIds } from '../src/events/ids.ts';
import { ReplayBuffer } from '../src/events/replay.ts';
import { video, waitFor } from './helpers.ts';

const ORIGIN = 'http://integrator.example';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-integrators-'));
let app: App;
let base: string;
let broker: ChildProcess | undefined;
let brokerLog = '';
let mqttPort = 0;

const ev = (stream: string, id: string, type: FacestreamEvent['type'] = 'stats') => ({ id, v: 1, stream, ts: 0, type }) as unknown as FacestreamEvent;

describe('event ids and the replay buffer', () => {
  it('ids increase per stream even when the clock goes back', () => {
    let now = 1000;
    const ids = new EventIds(() => now);
    const a = ids.next('s'), b = ids.next('s');
    now = 900; // clock stepped back
    const c = ids.next('s');
    now = 2000;
    const d = ids.next('s');
    expect([a, b, c, d]).toEqual(['1000-0', '1000-1', '1000-2', '2000-0']);
    expect(ids.next('other')).toBe('2000-0');
    expect(compareEventIds('999-5', '1000-0')).toBeLessThan(0);
    expect(compareEventIds('1000-10', '1000-9')).toBeGreaterThan(0); // numbers, not strings
  });

  it('pages, resumes and names what fell out of the buffer', () => {
    const buf = new ReplayBuffer(4);
    ['1-0', '2-0', '3-0'].forEach((id) => buf.push(ev('a', id)));
    buf.push(ev('b', '2-5'));
    expect(buf.query({ limit: 2 }).events.map((e) => e.id)).toEqual(['3-0', '2-5']);
    expect(buf.query({ stream: 'a', after: '1-0', limit: 1 })).toMatchObject({ events: [{ id: '2-0' }], more: true });
    buf.push(ev('a', '4-0')); // 1-0 of a falls out
    expect(buf.resume(['a'], { a: '2-0' }, undefined, 100)).toEqual({ events: [ev('a', '3-0'), ev('a', '4-0')], gaps: [] });
    expect(buf.resume(['a'], { a: '0-0' }, undefined, 100).gaps).toEqual(['a']);
    // a stream without a cursor resumes after `since`; limits are reported as gaps
    expect(buf.resume(['*'], { a: '3-0' }, '2-0', 100).events.map((e) => `${e.stream}${e.id}`)).toEqual(['b2-5', 'a4-0']);
    expect(buf.resume(['*'], {}, '0-0', 1)).toMatchObject({ events: [{ id: '2-0' }], gaps: expect.arrayContaining(['a', 'b']) });
  });
});

async function startBroker(): Promise<void> {
  mqttPort = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const bin = fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  broker = spawn(bin, ['-c', conf, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stdout!.on('data', (d) => { brokerLog += d; });
  broker.stderr!.on('data', (d) => { brokerLog += d; });
  broker.on('error', (e) => { brokerLog += `spawn failed: ${e.message} (apt-get install -y mosquitto)`; });
  await waitFor(() => /running|Opening ipv4 listen socket/i.test(brokerLog) || /spawn failed|Error/.test(brokerLog), 10_000, 'mosquitto');
  if (/spawn failed|Error/.test(brokerLog)) throw new Error(brokerLog);
}

beforeAll(async () => {
  await startBroker();
  app = await startApp(parseAppConfig({
    rtmp: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1', cors: [ORIGIN], fileSources: true },
    storage: { file: path.join(dir, 'agg.db'), statsIntervalMs: 1000 },
    events: { buffer: 100_000 },
    mqtt: { url: `mqtt://127.0.0.1:${mqttPort}`, topicPrefix: 'fs-test' },
    alerts: [{ name: 'anyone', when: 'inView', above: 0 }, { name: 'down', when: 'stalled' }],
  }, 'test'));
  base = `http://127.0.0.1:${app.httpPort}`;
}, 120_000);
afterAll(async () => {
  await app?.stop();
  broker?.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('integrators', () => {
  let client: FacestreamClient;
  const got: FacestreamEvent[] = [];
  const acks: SubscribeAck[] = [];
  const mqttGot: FacestreamEvent[] = [];

  it('the client resumes after a dropped connection: every event once, in order; MQTT carries the same events', async () => {
    const sub = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`);
    sub.on('message', (topic, payload) => { if (topic === 'fs-test/clip/events') mqttGot.push(JSON.parse(payload.toString())); });
    await new Promise<void>((resolve, reject) => { sub.on('connect', () => sub.subscribe('fs-test/#', { qos: 1 }, (err) => (err ? reject(err) : resolve()))); });

    client = connect(base, { streams: ['*'], socket: { transports: ['websocket'], reconnectionDelay: 1500, reconnectionDelayMax: 1500 } });
    client.on('event', (e) => got.push(e));
    client.on('subscribed', (a) => acks.push(a));
    // typed: the handler receives a TrackEnded
    client.on('track.ended', (e) => { expect(typeof e.dwellMs).toBe('number'); });
    await client.ready;

    const added = await fetch(`${base}/api/sources`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'clip', url: video('talking-d3.mp4'), realtime: true }) });
    expect(added.status).toBe(201);
    await waitFor(() => got.some((e) => e.type === 'track.started'), 60_000, 'a track');
    // the connection drops (a network cut): socket.io reconnects after 1.5 s
    client.socket.io.engine.close();
    await waitFor(() => acks.length >= 2, 20_000, 'the resumed subscription');
    await waitFor(() => got.some((e) => e.type === 'stream.ended' && e.stream === 'clip'), 90_000, 'stream.ended');

    const server = [...app.buffer.values()].filter((e) => e.stream === 'clip');
    const mine = got.filter((e) => e.stream === 'clip');
    // what the server sent after the client's first event, the client has, once each, in order
    const from = server.findIndex((e) => e.id === mine[0]!.id);
    expect(from).toBeGreaterThanOrEqual(0);
    expect(mine.map((e) => e.id)).toEqual(server.slice(from).map((e) => e.id));
    expect(client.counts.reconnects).toBeGreaterThanOrEqual(1);
    expect(acks[1]!.replayed).toBeGreaterThan(0); // events were published while it was away
    expect(acks[1]!.gaps).toEqual([]);
    for (let i = 1; i < mine.length; i++) expect(compareEventIds(mine[i]!.id, mine[i - 1]!.id)).toBeGreaterThan(0);

    // MQTT: every event of the stream, QoS 1, and a retained state for late subscribers
    await waitFor(() => mqttGot.some((e) => e.type === 'stream.ended'), 10_000, 'stream.ended over MQTT');
    expect([...new Set(mqttGot.map((e) => e.id))].sort(compareEventIds)).toEqual(server.map((e) => e.id));
    const late = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`);
    const state = await new Promise<{ state: string; last: FacestreamEvent; stats?: unknown }>((resolve) => {
      late.on('message', (topic, payload) => { if (topic === 'fs-test/clip/state') resolve(JSON.parse(payload.toString())); });
      late.on('connect', () => late.subscribe('fs-test/clip/state', { qos: 1 }));
    });
    expect(state.state).toBe('ended');
    expect(state.last.type).toBe('stream.ended');
    late.end();
    sub.end();
    client.close();
  }, 180_000);

  it('every event of the clip fits the published JSON Schema', async () => {
    const res = await fetch(`${base}/api/schema`);
    expect(res.headers.get('content-type')).toMatch(/schema\+json/);
    const schema = await res.json();
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const events = [...app.buffer.values()];
    const types = new Set(events.map((e) => e.type));
    for (const t of ['stream.started', 'stream.format', 'track.started', 'track.updated', 'track.ended', 'stats', 'stream.ended', 'alert']) expect(types).toContain(t);
    // the alert rule: raised when someone came into view, cleared when the last one left
    const alerts = events.filter((e) => e.type === 'alert' && e.stream === 'clip') as Array<Extract<FacestreamEvent, { type: 'alert' }>>;
    expect(alerts[0]).toMatchObject({ rule: 'anyone', state: 'raised', value: 1, threshold: 0 });
    expect(alerts.at(-1)!.state).toBe('cleared');
    for (const e of events) {
      if (!validate(e as unknown)) throw new Error(`${e.type} ${e.id} does not fit the schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    }
    // a wrong event does not fit
    expect(validate({ ...events[0], id: 'seven' })).toBe(false);
    expect(validate({ ...events[0], extra: 1 })).toBe(false);
    // boxes in the analysed frame: stream.format says its size
    const format = events.find((e) => e.stream === 'clip' && e.type === 'stream.format') as Extract<FacestreamEvent, { type: 'stream.format' }>;
    expect(format.frame.width).toBeGreaterThan(0);
    for (const e of events) {
      if (e.stream === 'clip' && (e.type === 'track.started' || e.type === 'track.updated')) expect(e.box.x + e.box.width).toBeLessThanOrEqual(format.frame.width + 1);
      if (e.type === 'track.ended' && !e.attributes) expect(['quality', 'unclassified']).toContain(e.noAttributes);
    }
  });

  it('GET /api/events pages by cursor and filters by type', async () => {
    const server = [...app.buffer.values()].filter((e) => e.stream === 'clip').map((e) => e.id);
    const seen: string[] = [];
    let after = '0-0';
    for (let page = 0; page < 1000; page++) {
      const r = await (await fetch(`${base}/api/events?stream=clip&after=${after}&limit=7`)).json() as { events: FacestreamEvent[]; next?: string; more: boolean };
      seen.push(...r.events.map((e) => e.id));
      if (!r.more) break;
      after = r.next!;
    }
    expect(seen).toEqual(server);
    const ended = await (await fetch(`${base}/api/events?type=track.ended,stream.ended&limit=1000`)).json() as { events: FacestreamEvent[] };
    expect(ended.events.length).toBeGreaterThan(0);
    expect(ended.events.every((e) => e.type === 'track.ended' || e.type === 'stream.ended')).toBe(true);
    const newest = await (await fetch(`${base}/api/events?limit=3`)).json() as { events: FacestreamEvent[] };
    expect(newest.events.map((e) => e.id)).toEqual([...app.buffer.values()].slice(-3).map((e) => e.id));
    for (const [q, what] of [['after=12', 'after'], ['limit=0', 'limit'], ['limit=5000', 'limit'], ['type=track.gone', 'type']]) {
      const r = await fetch(`${base}/api/events?${q}`);
      expect(r.status).toBe(400);
      const body = await r.json();
      expect(body.code).toBe('FS_ERR_QUERY');
      expect(body.error).toContain(what);
    }
  });

  it('GET /api/report.csv: one row per bucket and stream, as a spreadsheet opens it', async () => {
    const res = await fetch(`${base}/api/report.csv?stream=clip,nobody&bucket=60000`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const [head, ...rows] = (await res.text()).trim().split('\r\n');
    expect(head).toBe('bucket_start,stream,visits,unique_visitors,male,female,gender_unsure,baby,child,youth,middle_aged,old,smiling_share,mean_dwell_s');
    expect(rows.length).toBeGreaterThan(0);
    const cells = rows.map((r) => r.split(','));
    expect(cells.every((c) => c[1] === 'clip' && !Number.isNaN(Date.parse(c[0]!)))).toBe(true);
    const visits = cells.reduce((n, c) => n + Number(c[2]), 0);
    const ended = [...app.buffer.values()].filter((e) => e.stream === 'clip' && e.type === 'track.ended') as Array<{ visitor?: { returning: boolean } }>;
    expect(visits).toBe(ended.length);
    // unique visitors: the visits not recognised as a return
    expect(cells.reduce((n, c) => n + Number(c[3]), 0)).toBe(ended.filter((e) => !e.visitor?.returning).length);
    expect((await fetch(`${base}/api/report.csv?bucket=5`)).status).toBe(400);
    // the same visits by weekday and hour
    const heat = await (await fetch(`${base}/api/heatmap?stream=clip&tz=60`)).json() as { weekdays: string[]; cells: number[][] };
    expect(heat.weekdays[0]).toBe('Mon');
    expect(heat.cells).toHaveLength(7);
    expect(heat.cells.flat().reduce((a, b) => a + b, 0)).toBe(visits);
    expect((await fetch(`${base}/api/heatmap?tz=9999`)).status).toBe(400);
    // the printable report: the same visits, no script
    const page = await fetch(`${base}/api/report.html?stream=clip,<b>x</b>`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<h2>clip</h2>');
    expect(html).toContain(`<th>visits</th><td>${visits}</td>`);
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;'); // a name is text, never markup
    expect(html).not.toMatch(/<script/i);
  });

  it('a malformed resume is refused with a reason and the connection stays usable', async () => {
    const { io } = await import('socket.io-client');
    const sock = io(base, { transports: ['websocket'], reconnection: false });
    await new Promise<void>((r) => sock.on('connect', () => r()));
    for (const bad of [{ streams: ['*'], after: { clip: 'nope' } }, { streams: ['*'], after: [] }, { streams: ['*'], since: 5 }, { streams: ['*'], after: { '../x': '1-0' } }, { streams: ['*'], after: Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`s${i}`, '1-0'])) }]) {
      const ack = await sock.timeout(5000).emitWithAck('subscribe', bad) as { ok: boolean; error?: string };
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatch(/after|since/);
    }
    const ok = await sock.timeout(5000).emitWithAck('subscribe', { streams: ['clip'], after: { clip: '0-0' } }) as { ok: boolean; replayed: number; gaps: string[] };
    expect(ok).toMatchObject({ ok: true, gaps: [] });
    expect(ok.replayed).toBe([...app.buffer.values()].filter((e) => e.stream === 'clip').length);
    sock.close();
  });

  it('CORS for the origins of http.cors on /api/*, OpenAPI lists every route, /metrics says what runs', async () => {
    const ok = await fetch(`${base}/api/streams`, { headers: { origin: ORIGIN } });
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const other = await fetch(`${base}/api/streams`, { headers: { origin: 'http://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${base}/api/sources`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const doc = await (await fetch(`${base}/api/openapi.json`)).json() as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    for (const [p, m] of [['/api/heatmap', 'get'], ['/api/info', 'get'], ['/api/report.csv', 'get'], ['/api/streams', 'get'], ['/api/events', 'get'], ['/api/stats', 'get'], ['/api/sources', 'post'], ['/api/sources/{name}', 'delete'], ['/api/schema', 'get'], ['/healthz', 'get'], ['/metrics', 'get']]) {
      expect(doc.paths[p!]?.[m!], `${m} ${p}`).toBeDefined();
    }
    expect(doc.components.schemas.TrackEnded).toBeDefined();
    expect(JSON.stringify(doc)).not.toContain('#/definitions/');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/facestream_build_info\{version="\d+\.\d+\.\d+",schema="1",node="[\d.]+"\} 1/);
    expect(metrics).toMatch(/facestream_mqtt_connected 1/);
    expect(metrics).toMatch(/facestream_alerts_total\{rule="anyone"\} [1-9]/);
    expect(metrics).toMatch(/facestream_alerts_total\{rule="down"\} 0/);
    expect(metrics).toMatch(/facestream_socket_events_replayed_total [1-9]/);
  });
});
