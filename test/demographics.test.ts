import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { video, waitFor } from './helpers.ts';

let app: App;
let pub: Publisher | undefined;
let client: Socket | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-demo-only-'));

beforeAll(async () => {
  app = await startApp(parseAppConfig({
    rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' },
    storage: { file: path.join(dir, 'agg.db'), statsIntervalMs: 1000, demographicsOnly: true },
    alerts: [{ name: 'stay', when: 'dwellMs', above: 300 }],
  }, 'test'));
});
afterAll(async () => {
  client?.close();
  await pub?.stop();
  await app?.stop();
});

describe('demographics-only mode', () => {
  it('emits and stores only aggregates: no per-track event leaves the process', async () => {
    client = connect(`http://127.0.0.1:${app.httpPort}`, { transports: ['websocket'], reconnection: false });
    const got: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => got.push(e));
    await new Promise<void>((r) => client!.on('connect', () => r()));
    await client.emitWithAck('subscribe', '*');
    pub = publish(video('talking-d0.mp4'), `rtmp://127.0.0.1:${app.rtmpPort}/live/door`, { reencode: true });
    await pub.exited;
    await waitFor(() => got.find((e) => e.type === 'stream.ended'), 15_000, 'stream.ended');
    await waitFor(() => got.some((e) => e.type === 'stats' && e.people >= 1) || app.streams().length === 0, 5000, 'stats');
    expect(got.filter((e) => e.type.startsWith('track.'))).toHaveLength(0);
    // a dwell alert still says that someone stayed, but not which track
    const alerts = got.filter((e) => e.type === 'alert');
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((a) => !('trackId' in a))).toBe(true);
    expect(app.events().filter((e) => e.type.startsWith('track.'))).toHaveLength(0);
    const r = await (await fetch(`http://127.0.0.1:${app.httpPort}/api/stats?stream=live/door`)).json();
    expect(r.buckets.reduce((n: number, b: { people: number }) => n + b.people, 0)).toBe(1);
  });
});
