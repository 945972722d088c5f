/**
 * MQTT output through a network outage to the broker (#27; Debian's mosquitto, reached
 * through a TCP relay the test cuts and restores): events published while it is away wait
 * in the bounded queue and reach a subscriber once it is back; beyond
 * `maxQueued` the oldest are dropped and counted; the retained state replaces its
 * predecessor instead of queueing twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../src/app.ts';
import { startMqtt, topicOf } from '../src/events/mqtt.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { waitFor } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-mqtt-'));
let broker: ChildProcess | undefined;
afterAll(() => { broker?.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); });

async function startBroker(port: number): Promise<void> {
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  let log = '';
  broker = spawn(fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto', ['-c', conf, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stdout!.on('data', (d) => { log += d; });
  broker.stderr!.on('data', (d) => { log += d; });
  broker.on('error', (e) => { log += `spawn failed: ${e.message} (apt-get install -y mosquitto)`; });
  await waitFor(() => /running|Opening ipv4 listen socket/i.test(log) || /spawn failed|Error/.test(log), 10_000, 'mosquitto');
  if (/spawn failed|Error/.test(log)) throw new Error(log);
}

const stats = (stream: string, n: number) => ({ id: `${1000 + n}-0`, v: 1, type: 'stats', stream, ts: 1000 + n, since: 0, people: n, male: 0, female: 0, ageGroups: {}, smilingShare: null, meanDwellMs: null, inView: 0 }) as FacestreamEvent;

/** A TCP relay to the broker that can be cut (every connection dropped, the port closed) and restored. */
function relay(port: number, target: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const up = net.connect(target, '127.0.0.1');
    for (const s of [c, up]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
    c.pipe(up);
    up.pipe(c);
  });
  const listen = () => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    listen,
    cut: () => new Promise<void>((r) => { server.close(() => r()); for (const s of sockets) s.destroy(); }),
  };
}

describe('MQTT output', () => {
  it('keeps what is published while the broker is away (bounded) and sends it when it is back', async () => {
    const brokerPort = await freePort();
    await startBroker(brokerPort);
    const relayPort = await freePort();
    const link = relay(relayPort, brokerPort);
    await link.listen();
    // the subscriber talks to the broker directly and stays subscribed throughout
    const sub = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`);
    const got: FacestreamEvent[] = [];
    sub.on('message', (topic, payload) => { if (topic === topicOf('fs', 'cam/a+b', 'events')) got.push(JSON.parse(payload.toString())); });
    await new Promise<void>((r) => sub.on('connect', () => sub.subscribe('fs/#', { qos: 1 }, () => r())));

    const out = startMqtt({ url: `mqtt://127.0.0.1:${relayPort}`, topicPrefix: 'fs', qos: 1, maxQueued: 20 });
    await waitFor(() => out.stats.connected, 10_000, 'connected');
    out.publish(stats('cam/a+b', 0));
    await waitFor(() => got.length === 1, 5000, 'the first event');

    await link.cut();
    await waitFor(() => !out.stats.connected, 10_000, 'the link down');
    for (let i = 1; i <= 30; i++) out.publish(stats('cam/a+b', i));
    // 30 events and one retained state (each newer state replaces the waiting one): 20 kept, the oldest dropped
    expect(out.stats.queued).toBe(20);
    expect(out.stats.dropped).toBe(11);

    await link.listen();
    await waitFor(() => out.stats.connected && out.stats.queued === 0, 15_000, 'reconnected and flushed');
    await waitFor(() => got.length >= 20, 10_000, 'the queued events');
    // the newest events came through, in order, with their ids; '+' is not a wildcard in the topic
    expect(got.map((e) => e.id)).toEqual(['1000-0', ...Array.from({ length: 19 }, (_, i) => `${1012 + i}-0`)]);
    expect(topicOf('fs', 'cam/a+b', 'events')).toBe('fs/cam/a_b/events');
    sub.end();
    await out.close();
    await link.cut();
  }, 60_000);
});
