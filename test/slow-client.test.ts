import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { io as connect, type Socket } from 'socket.io-client';
import { attachSocket, type SocketLayer } from '../src/server/socket.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { waitFor } from './helpers.ts';

let server: http.Server;
let layer: SocketLayer;
let port: number;
const clients: Socket[] = [];

beforeAll(async () => {
  server = http.createServer();
  layer = attachSocket(server, { maxBuffered: 64 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const c of clients) c.close();
  await layer.close();
});

async function subscribed(): Promise<Socket> {
  const c = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
  clients.push(c);
  await new Promise<void>((r) => c.on('connect', () => r()));
  await c.emitWithAck('subscribe', '*');
  return c;
}

describe('a client that never reads', () => {
  it('is cut off at its buffer bound and does not delay the others', async () => {
    const stalled = await subscribed();
    const healthy = await subscribed();
    // the stalled client stops reading from its TCP socket
    const ws = (stalled.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } }).transport.ws;
    ws._socket.pause();
    let received = 0;
    healthy.on('event', () => { received++; });
    const big = 'x'.repeat(4000);
    const t0 = Date.now();
    for (let i = 0; i < 3000; i++) {
      layer.publish({ v: 1, type: 'stream.stalled', stream: 'live/x', ts: Date.now(), afterMs: i, pad: big } as unknown as FacestreamEvent);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => received >= 3000, 20_000, 'the healthy client to get every event');
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(layer.stats.dropped).toBeGreaterThan(1000); // the stalled client's share, dropped
    // the healthy client lost nothing: every drop was the stalled client's
    expect(received).toBe(3000);
    expect(layer.stats.sent + layer.stats.dropped).toBe(6000);
    (ws._socket as unknown as { destroy(): void }).destroy();
  });
});
