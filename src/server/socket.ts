/**
 * socket.io for integrators and the dashboard: clients subscribe to streams (rooms) and
 * receive their events as `event` messages. A token is required when configured. A slow
 * or stalled client never slows the pipeline: events to a client whose write buffer is
 * over `maxBuffered` packets are dropped (counted), and the frequent `track.updated` is
 * sent volatile. Unknown or malformed messages are ignored and counted.
 *
 * Client side:
 *   const socket = io('http://HOST:8080', { auth: { token } });
 *   socket.emit('subscribe', { streams: ['live/demo'] }, (ack) => ...);
 *   socket.on('event', (e) => ...);
 */
import type http from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { FacestreamEvent } from '../events/types.ts';

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
}

export interface SocketStats { clients: number; refused: number; invalid: number; dropped: number; sent: number }

export interface SocketLayer {
  publish(e: FacestreamEvent): void;
  readonly stats: SocketStats;
  close(): Promise<void>;
}

const ALL = '*';
/** Server-to-server message of the adapter: one event of another node's stream. */
const NODE_EVENT = 'facestream:event';
const STREAM_NAME = /^(?!.*\.\.)[\w./-]{1,200}$/; // stream paths such as live/door; no ".."

export function attachSocket(server: http.Server, opts: SocketOptions = {}): SocketLayer {
  const io = new Server(server, {
    maxHttpBufferSize: 16 * 1024,
    serveClient: false,
    cors: opts.cors ? { origin: opts.cors === '*' ? '*' : opts.cors } : undefined,
  });
  const stats: SocketStats = { clients: 0, refused: 0, invalid: 0, dropped: 0, sent: 0 };
  const maxBuffered = opts.maxBuffered ?? 256;
  const subscribers = new Map<string, Set<Socket>>(); // stream (or '*') -> sockets

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
    if (!raw || raw.length === 0 || raw.length > 100) return undefined;
    return raw.every((s) => typeof s === 'string' && (s === ALL || STREAM_NAME.test(s))) ? raw as string[] : undefined;
  };

  io.on('connection', (socket) => {
    stats.clients++;
    const mine = new Set<string>();
    const reply = (ack: unknown, body: object) => { if (typeof ack === 'function') (ack as (b: object) => void)(body); };
    socket.on('subscribe', (payload: unknown, ack?: unknown) => {
      const streams = parseStreams(payload);
      if (!streams) { stats.invalid++; return reply(ack, { ok: false, error: 'expected { streams: [name, ...] } or "*"' }); }
      for (const s of streams) {
        mine.add(s);
        if (!subscribers.has(s)) subscribers.set(s, new Set());
        subscribers.get(s)!.add(socket);
      }
      reply(ack, { ok: true, streams: [...mine] });
    });
    socket.on('unsubscribe', (payload: unknown, ack?: unknown) => {
      const streams = parseStreams(payload);
      if (!streams) { stats.invalid++; return reply(ack, { ok: false, error: 'expected { streams: [name, ...] }' }); }
      for (const s of streams) { mine.delete(s); subscribers.get(s)?.delete(socket); }
      reply(ack, { ok: true, streams: [...mine] });
    });
    socket.onAny((event: string) => {
      if (event !== 'subscribe' && event !== 'unsubscribe') stats.invalid++;
    });
    socket.on('disconnect', () => {
      stats.clients--;
      for (const s of mine) subscribers.get(s)?.delete(socket);
    });
  });

  const deliver = (e: FacestreamEvent) => {
    const targets = new Set<Socket>([...(subscribers.get(e.stream) ?? []), ...(subscribers.get(ALL) ?? [])]);
    for (const socket of targets) {
      const buffered = (socket.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0;
      if (buffered > maxBuffered) { stats.dropped++; continue; }
      if (e.type === 'track.updated') socket.volatile.emit('event', e);
      else socket.emit('event', e);
      stats.sent++;
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
