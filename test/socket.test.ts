import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { video, waitFor } from './helpers.ts';

const TOKEN = 'test-token-123';
let app: App;
const clients: Socket[] = [];
let pub: Publisher | undefined;

beforeAll(async () => {
  app = await startApp(parseAppConfig({
    rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1', token: TOKEN },
    pipeline: 'default',
  }, 'test'));
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
    await pub.stop();
    await waitFor(() => got.find((e) => e.type === 'stream.ended'), 10_000, 'stream.ended');
    const ended = got.filter((e) => e.type === 'track.ended');
    expect(ended.length).toBeGreaterThanOrEqual(1);
  });
});
