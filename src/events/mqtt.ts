/**
 * MQTT output (`mqtt.url`): every event on `PREFIX/STREAM/events` (QoS 1 by default), and
 * the stream's state, retained, on `PREFIX/STREAM/state` (what a subscriber joining later
 * reads at once: the state, the last stream event and the last `stats`). The client
 * reconnects on its own; while the broker is away events wait in a bounded queue (the
 * oldest dropped and counted beyond `maxQueued`), and the analysis never waits for it.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { FacestreamEvent, StatsEvent } from './types.ts';
import { createLogger } from '../log.ts';
import { redact } from '../redact.ts';

const log = createLogger('mqtt');

export interface MqttOptions {
  url: string;
  topicPrefix: string;
  qos: 0 | 1 | 2;
  maxQueued: number;
  username?: string;
  password?: string;
  clientId?: string;
}

export interface MqttStats { connected: boolean; published: number; queued: number; dropped: number; errors: number }

export interface MqttOutput {
  readonly stats: MqttStats;
  publish(e: FacestreamEvent): void;
  close(): Promise<void>;
}

/** A stream name as one or more topic levels: MQTT's wildcards and NUL cannot appear. */
export function topicOf(prefix: string, stream: string, leaf: string): string {
  return `${prefix}/${stream.replace(/[+#\u0000]/g, '_')}/${leaf}`;
}

interface StreamState { stream: string; state: string; ts: number; last?: FacestreamEvent; stats?: StatsEvent }

const STATE_OF: Partial<Record<FacestreamEvent['type'], string>> = {
  'stream.started': 'starting', 'stream.format': 'live', 'stream.stalled': 'stalled', 'stream.restarting': 'restarting', 'stream.ended': 'ended', 'stream.error': 'error',
};

export function startMqtt(opts: MqttOptions): MqttOutput {
  const stats: MqttStats = { connected: false, published: 0, queued: 0, dropped: 0, errors: 0 };
  const queue: Array<{ topic: string; payload: string; retain: boolean }> = [];
  const states = new Map<string, StreamState>();
  const where = redact(opts.url);
  const client: MqttClient = mqtt.connect(opts.url, {
    username: opts.username, password: opts.password, clientId: opts.clientId,
    reconnectPeriod: 1000, connectTimeout: 10_000,
    // our own bounded queue holds what waits for the broker; mqtt.js' would grow without bound
    queueQoSZero: false,
  });
  let warned = false;
  client.on('connect', () => {
    stats.connected = true;
    if (warned) log.info(`MQTT ${where} is back; ${queue.length} waiting event(s) sent`);
    warned = false;
    flush();
  });
  client.on('close', () => { stats.connected = false; });
  client.on('offline', () => { stats.connected = false; });
  client.on('error', (err) => {
    stats.errors++;
    if (!warned) log.warn(`MQTT ${where}: ${redact(err.message)}; events wait in memory (at most ${opts.maxQueued}) until it is back`);
    warned = true;
  });

  const send = (m: { topic: string; payload: string; retain: boolean }) => {
    client.publish(m.topic, m.payload, { qos: opts.qos, retain: m.retain }, (err) => {
      if (err) stats.errors++;
      else stats.published++;
    });
  };
  function flush(): void {
    while (queue.length && client.connected) send(queue.shift()!);
    stats.queued = queue.length;
  }
  const enqueue = (m: { topic: string; payload: string; retain: boolean }) => {
    if (client.connected && queue.length === 0) { send(m); return; }
    // a retained state replaces the one still waiting for the same topic
    if (m.retain) {
      const i = queue.findIndex((q) => q.retain && q.topic === m.topic);
      if (i >= 0) queue.splice(i, 1);
    }
    queue.push(m);
    if (queue.length > opts.maxQueued) stats.dropped += queue.splice(0, queue.length - opts.maxQueued).length;
    stats.queued = queue.length;
    if (client.connected) flush();
  };

  return {
    stats,
    publish(e) {
      enqueue({ topic: topicOf(opts.topicPrefix, e.stream, 'events'), payload: JSON.stringify(e), retain: false });
      const next = STATE_OF[e.type];
      if (!next && e.type !== 'stats') return;
      const s = states.get(e.stream) ?? { stream: e.stream, state: 'starting', ts: e.ts };
      if (next) { s.state = next; s.last = e; }
      if (e.type === 'stats') s.stats = e;
      s.ts = e.ts;
      states.set(e.stream, s);
      enqueue({ topic: topicOf(opts.topicPrefix, e.stream, 'state'), payload: JSON.stringify(s), retain: true });
      if (e.type === 'stream.ended') states.delete(e.stream);
    },
    async close() {
      // what is queued goes out if the broker is there (at most 2 s)
      const until = Date.now() + 2000;
      while (queue.length && client.connected && Date.now() < until) { flush(); await new Promise((r) => setTimeout(r, 20)); }
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
