/**
 * `facestream/client`: a typed subscription to a facestream server's events, for Node and
 * browsers. It subscribes to streams (or '*'), and when the connection drops it reconnects
 * (socket.io's backoff) and resumes after the last event it delivered: the server sends
 * what was missed (from Redis Streams with the Redis bus, else from its replay buffer), and
 * the client delivers each event once, in order per stream. What could not be sent again
 * (older than the server keeps) is reported as a `gap`, never silently skipped.
 *
 *   import { connect } from 'facestream/client';
 *   const client = connect('http://127.0.0.1:8080', { token, streams: ['*'] });
 *   client.on('track.ended', (e) => console.log(e.stream, e.trackId, e.attributes?.gender?.value));
 *   client.on('gap', (streams) => console.warn('missed events of', streams));
 *   // later: client.cursor() can be saved and given back as `after` to resume after a restart
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { EventOf, EventType, FacestreamEvent } from '../events/types.ts';

export type { EventOf, EventType, FacestreamEvent } from '../events/types.ts';
export type * from '../events/types.ts';

/** `MS-SEQ` ids, compared as numbers (the server's order per stream). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

export interface ClientOptions {
  /** The server's token (`http.token`), when it has one. */
  token?: string;
  /** Streams to receive, '*' for every one (default). */
  streams?: string[];
  /** Resume after these event ids (per stream; from `cursor()` of an earlier client). */
  after?: Record<string, string>;
  /** Send what was missed on reconnect (default true). */
  resume?: boolean;
  /** socket.io-client options (transports, reconnection delays, ...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

export interface SubscribeAck { ok: boolean; streams?: string[]; replayed?: number; gaps?: string[]; error?: string }

type Handlers = {
  [T in EventType]: (e: EventOf<T>) => void;
} & {
  /** Every event. */
  event: (e: FacestreamEvent) => void;
  /** Streams some of whose events were missed and could not be sent again. */
  gap: (streams: string[]) => void;
  /** (Re)subscribed: what the server says, with how many missed events it sent again. */
  subscribed: (ack: SubscribeAck) => void;
  connect: () => void;
  disconnect: (reason: string) => void;
  /** A refused connection (wrong token, origin) or a refused subscription. */
  error: (err: Error) => void;
};

export interface FacestreamClient {
  on<K extends keyof Handlers>(what: K, fn: Handlers[K]): () => void;
  off<K extends keyof Handlers>(what: K, fn: Handlers[K]): void;
  /** Resolves with the first subscription's answer (rejects when refused). */
  readonly ready: Promise<SubscribeAck>;
  /** The id of the last event delivered, per stream: give it as `after` to resume later. */
  cursor(): Record<string, string>;
  readonly connected: boolean;
  /** Events delivered, and duplicates dropped (sent twice across a reconnect). */
  readonly counts: { delivered: number; duplicates: number; reconnects: number };
  close(): void;
  /** The socket.io socket underneath. */
  readonly socket: Socket;
}

export function connect(url: string, opts: ClientOptions = {}): FacestreamClient {
  const streams = opts.streams?.length ? [...opts.streams] : ['*'];
  const last = new Map<string, string>(Object.entries(opts.after ?? {}));
  const handlers = new Map<string, Set<(...a: unknown[]) => void>>();
  const counts = { delivered: 0, duplicates: 0, reconnects: 0 };
  const fire = (what: string, ...args: unknown[]) => {
    for (const fn of handlers.get(what) ?? []) {
      try { fn(...args); } catch (err) { queueMicrotask(() => { throw err; }); }
    }
  };
  let settle: { resolve: (a: SubscribeAck) => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<SubscribeAck>((resolve, reject) => { settle = { resolve, reject }; });
  ready.catch(() => {}); // observed through `error` too
  const socket = io(url, {
    ...opts.socket,
    auth: opts.token ? { token: opts.token } : {},
  });
  let connectedOnce = false;

  const newest = (): string | undefined => {
    let best: string | undefined;
    for (const id of last.values()) if (!best || compareIds(id, best) > 0) best = id;
    return best;
  };

  socket.on('connect', () => {
    if (connectedOnce) counts.reconnects++;
    connectedOnce = true;
    fire('connect');
    const resume = opts.resume !== false && last.size > 0;
    const payload = resume ? { streams, after: Object.fromEntries(last), since: newest() } : { streams };
    socket.emit('subscribe', payload, (ack: SubscribeAck) => {
      if (!ack?.ok) {
        const err = new Error(`subscribe refused: ${ack?.error ?? 'no answer'}`);
        settle?.reject(err);
        settle = undefined;
        fire('error', err);
        return;
      }
      settle?.resolve(ack);
      settle = undefined;
      fire('subscribed', ack);
      if (ack.gaps?.length) fire('gap', ack.gaps);
    });
  });
  socket.on('disconnect', (reason: string) => fire('disconnect', reason));
  socket.on('connect_error', (err: Error) => {
    fire('error', err);
    // refused by the server (token, origin): socket.io does not retry those
    if (!socket.active) { settle?.reject(err); settle = undefined; }
  });
  socket.on('event', (e: FacestreamEvent) => {
    if (!e || typeof e !== 'object' || typeof e.stream !== 'string') return;
    if (typeof e.id === 'string') {
      const prev = last.get(e.stream);
      if (prev && compareIds(e.id, prev) <= 0) { counts.duplicates++; return; }
      last.set(e.stream, e.id);
    }
    counts.delivered++;
    fire(e.type, e);
    fire('event', e);
  });

  return {
    on(what, fn) {
      if (!handlers.has(what)) handlers.set(what, new Set());
      handlers.get(what)!.add(fn as (...a: unknown[]) => void);
      return () => this.off(what, fn);
    },
    off(what, fn) { handlers.get(what)?.delete(fn as (...a: unknown[]) => void); },
    ready,
    cursor: () => Object.fromEntries(last),
    get connected() { return socket.connected; },
    counts,
    close() { socket.close(); },
    socket,
  };
}
