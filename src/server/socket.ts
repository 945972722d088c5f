/**
 * socket.io for integrators and the dashboard: clients subscribe to streams (rooms) and
 * receive their events as `event` messages. A token is required when configured. A slow
 * or stalled client never slows the pipeline: events to a client whose write buffer is
 * over `maxBuffered` packets are dropped (counted), and the frequent `track.updated` is
 * sent volatile. Unknown or malformed messages are ignored and counted.
 *
 * Resuming: a client that reconnects subscribes with `after` (the id of the last event it
 * received, per stream) and `since` (the newest id it received of any stream: the cursor
 * of streams it has none for); it is sent what it missed first (from the Redis Streams
 * with the Redis bus, else from the node's replay buffer), then the live events, with no
 * duplicate between the two. The ack names the streams of which events were lost (`gaps`).
 *
 * Client side (facestream/client does all this):
 *   const socket = io('http://HOST:8080', { auth: { token } });
 *   socket.emit('subscribe', { streams: ['live/demo'], after: { 'live/demo': '1764680000000-3' } }, (ack) => ...);
 *   socket.on('event', (e) => ...);
 */
import type http from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { FacestreamEvent } from '../events/types.ts';
import { compareEventIds, isEventId, type EventId } from '../events/ids.ts';
import { originAllowed } from './http.ts';

import type { Missed, ReplaySource } from '../events/replay.ts';

function describe(desc: unknown): string {
  const parts: string[] = [];
  let d: unknown = desc;
  for (let i = 0; d && i < 4; i++) {
    if (typeof d === 'string') { parts.push(d); break; }
    const o = d as { message?: unknown; description?: unknown; code?: unknown };
    if (typeof o.message === 'string') parts.push(o.message);
    if (typeof o.code === 'string') parts.push(o.code);
    d = o.description;
  }
  return parts.join(' ');
}

export interface SocketOptions {
  /** When set, clients must send it as `auth.token` (or `?token=`). */
  token?: string;
  /** Allowed origins for browsers; '*' for any. Default: same origin only. */
  cors?: string[] | '*';
  /** Packets waiting for one client beyond which its events are dropped. Default 256. */
  maxBuffered?: number;
  /**
   * Several nodes: socket.io's adapter (the Redis one) carries each published event to the
   * other nodes, which deliver it to their own subscribed clients with the same bounds.
   */
  adapter?: Parameters<Server['adapter']>[0];
  /** Whether the adapter can reach the other nodes now (events are not forwarded while it cannot). */
  canForward?: () => boolean;
  /** Where resuming clients' missed events come from; without it nothing is sent again. */
  replay?: ReplaySource;
  /** Events sent again to one resuming subscription at most (default 10,000); beyond, the stream is named in `gaps`. */
  maxReplay?: number;
  /** Whether clients may `watch` a stream's live view (dashboard.video); refused with a reason otherwise. */
  video?: boolean;
}

export interface SocketStats {
  clients: number; refused: number; invalid: number; dropped: number; sent: number; oversized: number; subscribedStreams: number; replayed: number;
  /** Live-view frames sent, and skipped because a watcher had not taken the previous ones yet. */
  videoFrames: number; videoSkipped: number;
}

export interface SocketLayer {
  publish(e: FacestreamEvent): void;
  /** Whether some client of this node watches the stream's live view. */
  watching(stream: string): boolean;
  /** One live-view frame to the stream's watchers on this node (skipped for a watcher still sending an earlier one). */
  sendFrame(stream: string, frame: object): void;
  readonly stats: SocketStats;
  close(): Promise<void>;
}

const ALL = '*';
/** Server-to-server message of the adapter: one event of another node's stream. */
const NODE_EVENT = 'facestream:event';
const STREAM_NAME = /^(?!.*\.\.)[\w./-]{1,128}$/; // stream paths such as live/door; no ".."
/** Subscriptions one socket may hold: what a dashboard needs, not a way to grow the server's memory. */
export const MAX_SUBSCRIPTIONS = 64;

export function attachSocket(server: http.Server, opts: SocketOptions = {}): SocketLayer {
  const stats: SocketStats = { clients: 0, refused: 0, invalid: 0, dropped: 0, sent: 0, oversized: 0, subscribedStreams: 0, replayed: 0, videoFrames: 0, videoSkipped: 0 };
  const io = new Server(server, {
    maxHttpBufferSize: 16 * 1024,
    serveClient: false,
    cors: opts.cors ? { origin: opts.cors === '*' ? '*' : opts.cors } : undefined,
    // a browser page of another origin cannot open a socket (and read every event) unless listed in http.cors
    allowRequest: (req, callback) => {
      const ok = originAllowed(req.headers.origin, req.headers.host, opts.cors);
      if (!ok) stats.refused++;
      callback(ok ? null : 'origin not allowed', ok);
    },
  });
  // a message over maxHttpBufferSize closes its connection: counted, so that /metrics shows it
  io.engine.on('connection', (raw: { on(ev: 'close', fn: (reason: string, desc?: unknown) => void): void }) => {
    raw.on('close', (_reason, desc) => {
      if (/payload|max.*size|too large/i.test(describe(desc))) stats.oversized++;
    });
  });
  const maxBuffered = opts.maxBuffered ?? 256;
  const subscribers = new Map<string, Set<Socket>>(); // stream (or '*') -> sockets
  const watchers = new Map<string, Set<Socket>>(); // stream -> sockets watching its live view
  // sockets being sent what they missed: their live events wait here meanwhile (bounded)
  const replaying = new Map<Socket, FacestreamEvent[]>();
  const maxReplay = opts.maxReplay ?? 10_000;

  /** `after` and `since` of a resuming subscribe, or an error message. */
  const parseCursor = (payload: unknown): { after: Record<string, EventId>; since?: EventId } | string => {
    const p = (payload && typeof payload === 'object' ? payload : {}) as { after?: unknown; since?: unknown };
    const after: Record<string, EventId> = {};
    if (p.after != null) {
      if (typeof p.after !== 'object' || Array.isArray(p.after)) return 'after: { stream: event id, ... }';
      const entries = Object.entries(p.after as Record<string, unknown>);
      if (entries.length > 1024) return 'after: at most 1024 streams';
      for (const [k, v] of entries) {
        if (!STREAM_NAME.test(k) || !isEventId(v)) return `after: "${k.slice(0, 64)}" must map a stream name to an event id (MS-SEQ)`;
        after[k] = v;
      }
    }
    if (p.since != null && !isEventId(p.since)) return 'since: an event id (MS-SEQ)';
    return { after, ...(p.since != null ? { since: p.since as EventId } : {}) };
  };

  io.use((socket, next) => {
    if (!opts.token) return next();
    const given = (socket.handshake.auth as { token?: unknown })?.token ?? socket.handshake.query.token;
    if (given === opts.token) return next();
    stats.refused++;
    next(new Error('unauthorized: a valid token is required (auth.token)'));
  });

  const parseStreams = (payload: unknown): string[] | undefined => {
    const raw = typeof payload === 'string' ? [payload]
      : payload && typeof payload === 'object' && Array.isArray((payload as { streams?: unknown }).streams) ? (payload as { streams: unknown[] }).streams
      : undefined;
    if (!raw || raw.length === 0 || raw.length > MAX_SUBSCRIPTIONS) return undefined;
    return raw.every((s) => typeof s === 'string' && (s === ALL || STREAM_NAME.test(s))) ? raw as string[] : undefined;
  };

  const leave = (stream: string, socket: Socket) => {
    const set = subscribers.get(stream);
    if (!set) return;
    set.delete(socket);
    if (set.size === 0) subscribers.delete(stream);
    stats.subscribedStreams = subscribers.size;
  };

  io.on('connection', (socket) => {
    stats.clients++;
    const mine = new Set<string>();
    const reply = (ack: unknown, body: object) => { if (typeof ack === 'function') (ack as (b: object) => void)(body); };
    socket.on('subscribe', (payload: unknown, ack?: unknown) => {
      const streams = parseStreams(payload);
      if (!streams) { stats.invalid++; return reply(ack, { ok: false, error: `expected { streams: [name, ...] } or "*" (names of at most 128 characters, at most ${MAX_SUBSCRIPTIONS})` }); }
      const after = new Set([...mine, ...streams]);
      if (after.size > MAX_SUBSCRIPTIONS) {
        stats.invalid++;
        return reply(ack, { ok: false, error: `at most ${MAX_SUBSCRIPTIONS} subscriptions a connection (subscribe to "*" for every stream)` });
      }
      const cursor = parseCursor(payload);
      if (typeof cursor === 'string') { stats.invalid++; return reply(ack, { ok: false, error: cursor }); }
      const resuming = !!opts.replay && (cursor.since != null || Object.keys(cursor.after).length > 0);
      // joined first: what is published while the missed events are read waits for them
      if (resuming && !replaying.has(socket)) replaying.set(socket, []);
      for (const s of streams) {
        mine.add(s);
        if (!subscribers.has(s)) subscribers.set(s, new Set());
        subscribers.get(s)!.add(socket);
      }
      stats.subscribedStreams = subscribers.size;
      if (!resuming) return reply(ack, { ok: true, streams: [...mine] });
      void (async () => {
        let missed: Missed;
        try {
          missed = await opts.replay!(streams, cursor.after, cursor.since, maxReplay);
        } catch (err) {
          missed = { events: [], gaps: [...streams] };
          void err;
        }
        const sentUpTo = new Map<string, EventId>();
        for (const e of missed.events) {
          socket.emit('event', e);
          sentUpTo.set(e.stream, e.id);
        }
        stats.replayed += missed.events.length;
        const waiting = replaying.get(socket) ?? [];
        replaying.delete(socket);
        for (const e of waiting) {
          const upTo = sentUpTo.get(e.stream);
          if (upTo == null || compareEventIds(e.id, upTo) > 0) send(socket, e);
        }
        reply(ack, { ok: true, streams: [...mine], replayed: missed.events.length, gaps: missed.gaps });
      })();
    });
    // the live view: frames of one stream at a time per connection (a picture is heavy)
    let watched: string | undefined;
    const unwatch = () => {
      if (watched == null) return;
      const set = watchers.get(watched);
      set?.delete(socket);
      if (set && set.size === 0) watchers.delete(watched);
      watched = undefined;
    };
    socket.on('watch', (payload: unknown, ack?: unknown) => {
      const stream = (payload && typeof payload === 'object' ? (payload as { stream?: unknown }).stream : undefined);
      if (!opts.video) { stats.invalid++; return reply(ack, { ok: false, error: 'the live view is off on this server (dashboard.video: true in its config)' }); }
      if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) { stats.invalid++; return reply(ack, { ok: false, error: 'expected { stream: name }' }); }
      unwatch();
      watched = stream;
      if (!watchers.has(stream)) watchers.set(stream, new Set());
      watchers.get(stream)!.add(socket);
      reply(ack, { ok: true, stream });
    });
    socket.on('unwatch', (_payload: unknown, ack?: unknown) => { unwatch(); reply(ack, { ok: true }); });
    socket.on('unsubscribe', (payload: unknown, ack?: unknown) => {
      const streams = parseStreams(payload);
      if (!streams) { stats.invalid++; return reply(ack, { ok: false, error: 'expected { streams: [name, ...] }' }); }
      for (const s of streams) { mine.delete(s); leave(s, socket); }
      reply(ack, { ok: true, streams: [...mine] });
    });
    socket.onAny((event: string) => {
      if (!['subscribe', 'unsubscribe', 'watch', 'unwatch'].includes(event)) stats.invalid++;
    });
    socket.on('disconnect', () => {
      stats.clients--;
      unwatch();
      replaying.delete(socket);
      for (const s of mine) leave(s, socket);
      mine.clear();
    });
  });

  const send = (socket: Socket, e: FacestreamEvent) => {
    const buffered = (socket.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0;
    if (buffered > maxBuffered) { stats.dropped++; return; }
    if (e.type === 'track.updated') socket.volatile.emit('event', e);
    else socket.emit('event', e);
    stats.sent++;
  };
  const deliver = (e: FacestreamEvent) => {
    const targets = new Set<Socket>([...(subscribers.get(e.stream) ?? []), ...(subscribers.get(ALL) ?? [])]);
    for (const socket of targets) {
      const waiting = replaying.get(socket);
      if (waiting) {
        if (waiting.length < maxReplay) waiting.push(e); else stats.dropped++;
        continue;
      }
      send(socket, e);
    }
  };
  if (opts.adapter) {
    io.adapter(opts.adapter);
    io.on(NODE_EVENT, (e: FacestreamEvent) => {
      if (e && typeof e === 'object' && typeof e.stream === 'string') deliver(e);
    });
  }

  return {
    stats,
    watching: (stream) => (watchers.get(stream)?.size ?? 0) > 0,
    sendFrame(stream, frame) {
      for (const socket of watchers.get(stream) ?? []) {
        // a frame still waiting in this socket's buffer: the next one would only add lag
        const buffered = (socket.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0;
        if (buffered > 0) { stats.videoSkipped++; continue; }
        socket.emit('frame', frame);
        stats.videoFrames++;
      }
    },
    publish(e) {
      deliver(e);
      if (opts.adapter && (opts.canForward?.() ?? true)) io.serverSideEmit(NODE_EVENT, e);
    },
    // what was published before close (the track.ended and stream.ended of a shutdown) is
    // written out first: at most a second for the clients' buffers to drain
    close: async () => {
      const until = Date.now() + 1000;
      const pending = () => [...io.sockets.sockets.values()].some((c) => ((c.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0) > 0);
      while (pending() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await new Promise<void>((resolve) => { io.close(() => resolve()); });
    },
  };
}
