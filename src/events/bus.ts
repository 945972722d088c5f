/**
 * The event bus between facestream nodes (`bus.kind: redis`; the default `memory` keeps
 * everything in the process):
 *
 * - every event of this node's streams is appended to a Redis Stream, one key per camera
 *   stream (`facestream:events:NAME`, capped at about `maxLen` entries), under the event's
 *   own id (`MS-SEQ`, the form of a Redis entry id), field `event` = the event's JSON:
 *   integrators read them durably with consumer groups (XREADGROUP, XACK) and resume
 *   after a restart, and a socket.io client resuming after a reconnect is sent what it
 *   missed from here (`replay`);
 * - this node's streams (name, state, counters, owner) are written every 2 s under
 *   `facestream:node:ID` with a 6 s expiry, so `/api/streams` on any node lists every live
 *   node's streams and a dead node's disappear within seconds;
 * - socket.io's Redis adapter (`@socket.io/redis-adapter`) carries each event to the other
 *   nodes, whose subscribed clients receive it (see socket.ts).
 *
 * Redis going away never stops the analysis: appends wait in a bounded queue (the oldest
 * dropped and counted beyond `maxQueued`), ioredis reconnects, and `stats` says so.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { FacestreamEvent } from './types.ts';
import { compareEventIds, isEventId } from './ids.ts';
import type { Missed, ReplaySource } from './replay.ts';
import { createLogger } from '../log.ts';

const log = createLogger('bus');

export const STREAM_KEY_PREFIX = 'facestream:events:';
export const NODE_KEY_PREFIX = 'facestream:node:';

/** A stream as nodes list it (the API's StreamInfo fields), with the node that analyses it. */
export interface NodeStream { name: string; owner: string }

export interface BusStats { connected: boolean; appended: number; queued: number; dropped: number; errors: number; /** Events appended under a Redis id instead of their own (the key held a later id). */ reIdentified: number }

export interface RedisBus {
  readonly nodeId: string;
  readonly stats: BusStats;
  append(e: FacestreamEvent): void;
  /** What a resuming client missed, read from the Redis Streams. */
  replay(...args: Parameters<ReplaySource>): Promise<Missed>;
  /** Streams of the other live nodes, as last read (refreshed every 2 s). */
  remoteStreams(): NodeStream[];
  /** socket.io adapter factory over this bus' connections. */
  adapter(): ReturnType<typeof createAdapter>;
  close(): Promise<void>;
}

export function startRedisBus(opts: {
  url: string; nodeId: string; maxLen: number; maxQueued?: number;
  /** This node's streams, each with this node as its owner. */
  localStreams: () => ReadonlyArray<NodeStream>;
}): RedisBus {
  const retryStrategy = (n: number) => Math.min(200 * n, 2000);
  // main: our own commands, sent only while connected (appends wait in our bounded queue);
  // pub/sub: the socket.io adapter's, which subscribes before the connection is up
  const main = new Redis(opts.url, { maxRetriesPerRequest: null, enableOfflineQueue: false, retryStrategy });
  const pub = new Redis(opts.url, { maxRetriesPerRequest: 1, retryStrategy });
  const sub = new Redis(opts.url, { maxRetriesPerRequest: null, retryStrategy });
  const stats: BusStats = { connected: false, appended: 0, queued: 0, dropped: 0, errors: 0, reIdentified: 0 };
  const maxQueued = opts.maxQueued ?? 10_000;
  const queue: FacestreamEvent[] = [];
  /** The batch being appended: events of it that leave the queue meanwhile are not lost. */
  let inFlight: Set<FacestreamEvent> | undefined;
  let remote: NodeStream[] = [];
  let closed = false;
  let flushing = false;

  let warned = false;
  for (const c of [main, pub, sub]) {
    c.on('error', (err: Error) => {
      stats.errors++;
      if (!warned) log.warn(`redis ${opts.url}: ${err.message}; events wait in memory (at most ${maxQueued}) until it is back`);
      warned = true;
    });
  }
  main.on('ready', () => {
    stats.connected = true;
    if (warned) log.info(`redis ${opts.url} is back; ${queue.length} waiting event(s) appended`);
    warned = false;
    void flush();
  });
  main.on('close', () => { stats.connected = false; });

  const xadd = (p: ReturnType<Redis['pipeline']>, e: FacestreamEvent, id: string) =>
    p.xadd(`${STREAM_KEY_PREFIX}${e.stream}`, 'MAXLEN', '~', String(opts.maxLen), id, 'event', JSON.stringify(e));
  const flush = async () => {
    if (flushing || closed) return;
    flushing = true;
    try {
      while (queue.length && main.status === 'ready') {
        const batch = queue.slice(0, 200);
        inFlight = new Set(batch);
        const p = main.pipeline();
        for (const e of batch) xadd(p, e, isEventId(e.id) ? e.id : '*');
        const res = await p.exec();
        if (!res) break;
        // a key that holds a later id (another node wrote this stream, the clock went back):
        // the event is appended under a Redis id rather than lost
        const stale = (err: Error | null | undefined) => /equal or smaller/i.test(err?.message ?? '');
        const again = batch.filter((_, i) => stale(res[i]?.[0]));
        if (res.some(([err]) => err && !stale(err))) break; // connection lost mid-way: the batch stays queued
        if (again.length) {
          const retry = main.pipeline();
          for (const e of again) xadd(retry, e, '*');
          await retry.exec();
          stats.reIdentified += again.length;
        }
        // what is left of the batch at the queue's front (events may have been dropped from it
        // meanwhile, past maxQueued, and new ones added at its end): not as many as were sent
        let sent = 0;
        while (sent < queue.length && inFlight.has(queue[sent]!)) sent++;
        queue.splice(0, sent);
        inFlight = undefined;
        stats.appended += batch.length;
      }
    } catch {
      stats.errors++;
    } finally {
      // a batch not appended: its events that left the queue meanwhile are lost now
      if (inFlight) { const waiting = new Set(queue); for (const e of inFlight) if (!waiting.has(e)) stats.dropped++; inFlight = undefined; }
      stats.queued = queue.length;
      flushing = false;
    }
  };

  const announce = async () => {
    if (main.status !== 'ready') { remote = []; return; } // cut off: nothing known of the other nodes
    try {
      await main.set(`${NODE_KEY_PREFIX}${opts.nodeId}`, JSON.stringify({ id: opts.nodeId, at: Date.now(), streams: opts.localStreams() }), 'EX', 6);
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await main.scan(cursor, 'MATCH', `${NODE_KEY_PREFIX}*`, 'COUNT', 100);
        cursor = next;
        keys.push(...found.filter((k) => k !== `${NODE_KEY_PREFIX}${opts.nodeId}`));
      } while (cursor !== '0');
      const values = keys.length ? await main.mget(...keys) : [];
      remote = values.flatMap((v) => {
        try { return v ? (JSON.parse(v) as { streams: NodeStream[] }).streams : []; } catch { return []; }
      });
    } catch {
      stats.errors++;
    }
  };
  const timer = setInterval(() => void announce(), 2000);
  timer.unref();
  void announce();

  return {
    nodeId: opts.nodeId,
    stats,
    append(e) {
      queue.push(e);
      if (queue.length > maxQueued) stats.dropped += queue.splice(0, queue.length - maxQueued).filter((d) => !inFlight?.has(d)).length;
      stats.queued = queue.length;
      void flush();
    },
    async replay(streams, after, since, limit) {
      const events: FacestreamEvent[] = [];
      const gaps: string[] = [];
      let names = streams.filter((s) => s !== '*');
      if (streams.includes('*')) {
        const keys = new Set<string>();
        let cursor = '0';
        do {
          const [next, found] = await main.scan(cursor, 'MATCH', `${STREAM_KEY_PREFIX}*`, 'COUNT', 200);
          cursor = next;
          for (const k of found) keys.add(k.slice(STREAM_KEY_PREFIX.length));
        } while (cursor !== '0');
        names = [...keys];
      }
      for (const name of names) {
        const from = Object.hasOwn(after, name) ? after[name] : since;
        if (from == null || events.length >= limit) { if (from != null) gaps.push(name); continue; }
        const key = `${STREAM_KEY_PREFIX}${name}`;
        // MAXLEN trims the oldest entries: when the oldest left is after the cursor and some
        // were trimmed, entries after the cursor may be among them (said as a gap)
        const info = await main.call('XINFO', 'STREAM', key).catch(() => undefined) as unknown[] | undefined;
        if (info) {
          const field = (f: string) => info[info.indexOf(f) + 1];
          const trimmed = Number(field('entries-added')) > Number(field('length'));
          const first = (field('first-entry') as unknown[] | null)?.[0];
          if (trimmed && (typeof first !== 'string' || !isEventId(first) || compareEventIds(first, from) > 0)) gaps.push(name);
        }
        const want = limit - events.length;
        const rows = await main.xrange(key, `(${from}`, '+', 'COUNT', want + 1);
        for (const [, fields] of rows.slice(0, want)) {
          const i = fields.indexOf('event');
          try { events.push(JSON.parse(fields[i + 1]!) as FacestreamEvent); } catch { /* not ours */ }
        }
        if (rows.length > want && !gaps.includes(name)) gaps.push(name);
      }
      return { events, gaps };
    },
    remoteStreams: () => remote,
    adapter: () => createAdapter(pub, sub),
    async close() {
      clearInterval(timer);
      await flush().catch(() => {});
      closed = true;
      await main.del(`${NODE_KEY_PREFIX}${opts.nodeId}`).catch(() => {});
      for (const c of [main, pub, sub]) c.disconnect();
    },
  };
}
