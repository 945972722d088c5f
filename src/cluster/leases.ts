/**
 * Pulled cameras across several nodes (`bus.kind: redis`): the cluster's sources live in one
 * Redis hash, and each is pulled by exactly one live node, the holder of its lease.
 *
 * - `facestream:sources` (hash): name -> the source's config (JSON), from the config files
 *   and POST /api/sources, shared by every node; DELETE removes it there.
 * - `facestream:lease:NAME`: the node id holding the source, with a TTL (`ttlMs`, 10 s);
 *   its holder renews it every `tickMs` (2 s) with a compare-and-set (renewed only if still
 *   its own).
 * - `facestream:cluster:NODE`: each node's capacity, with a TTL: the live nodes.
 *
 * On every tick a node renews what it holds, stops (then releases) what it holds beyond its
 * fair share (the sources split by the nodes' capacities, rounded up), and takes free sources
 * (SET NX) up to that share. A node that dies stops renewing: its leases expire and others take
 * them within ttlMs + tickMs. A node that cannot reach Redis stops pulling once its leases may
 * have expired (no camera is pulled twice across a partition). `release()` (SIGTERM) stops its
 * sources and deletes their leases, so others take them at their next tick. A source is always
 * stopped before its lease is given up, and started only once the lease is won.
 */
import { Redis } from 'ioredis';
import { createLogger } from '../log.ts';

const log = createLogger('cluster');

export const SOURCES_KEY = 'facestream:sources';
export const LEASE_PREFIX = 'facestream:lease:';
export const MEMBER_PREFIX = 'facestream:cluster:';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface LeaseOptions {
  url: string;
  nodeId: string;
  /** This node's share weight (default 1). */
  capacity?: number;
  ttlMs?: number;
  tickMs?: number;
  /** Start pulling a source this node now holds; `config` as stored. */
  start(name: string, config: unknown): void | Promise<void>;
  /** Stop pulling it (resolves once its decoder is gone). */
  stop(name: string): void | Promise<void>;
}

export interface ClusterSource { name: string; config: unknown; owner: string | null }

export interface SourceLeases {
  /** The sources this node pulls now. */
  readonly held: ReadonlySet<string>;
  /** Adds (or replaces) a source of the cluster. */
  add(name: string, config: unknown, opts?: { ifAbsent?: boolean }): Promise<boolean>;
  /**
   * A source of this node's config: written to the cluster at the next round that reaches
   * Redis (at start-up the connection is not up yet; a Redis that is down at start-up gets
   * them once it is back), then pulled by whichever node wins it.
   */
  seed(name: string, config: unknown): void;
  /** Removes a source from the cluster (its holder stops it at its next tick). */
  remove(name: string): Promise<boolean>;
  /** Every source of the cluster with the node that holds it. */
  list(): Promise<ClusterSource[]>;
  /** One round now (tests; the timer runs them every tickMs). */
  tick(): Promise<void>;
  /** Hands this node's sources over (stops them, deletes their leases) and leaves. */
  release(): Promise<void>;
}

export function startLeases(opts: LeaseOptions): SourceLeases {
  const ttlMs = opts.ttlMs ?? 10_000;
  const tickMs = opts.tickMs ?? 2000;
  const capacity = opts.capacity ?? 1;
  const redis = new Redis(opts.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n) => Math.min(200 * n, 2000) });
  redis.on('error', () => { /* said once per outage below */ });
  const held = new Set<string>();
  /** When each held lease was last known good (renewed or won). */
  const goodUntil = new Map<string, number>();
  let running: Promise<void> | undefined;
  let closed = false;
  let warned = false;
  const seeds = new Map<string, string>();
  const connected = new Promise<void>((resolve) => { redis.once('ready', () => resolve()); });

  const forget = (name: string) => { held.delete(name); goodUntil.delete(name); };
  const stopSource = async (name: string) => {
    forget(name);
    try { await opts.stop(name); } catch (err) { log.warn(`stopping ${name}: ${(err as Error).message}`); }
  };
  /** Gives the lease up, if still this node's. */
  const release = (name: string) => redis.eval(RELEASE, 1, `${LEASE_PREFIX}${name}`, opts.nodeId);
  /** Stops the camera first, then gives its lease up: it is never pulled twice. */
  const handBack = async (name: string) => { await stopSource(name); await release(name); };

  const round = async () => {
    if (closed) return;
    // the first round waits for the connection (commands fail rather than queue while it is down)
    if (redis.status !== 'ready') await Promise.race([connected, new Promise((r) => setTimeout(r, tickMs))]);
    const now = Date.now();
    try {
      if (seeds.size) {
        await redis.hset(SOURCES_KEY, Object.fromEntries(seeds));
        seeds.clear();
      }
      await redis.set(`${MEMBER_PREFIX}${opts.nodeId}`, JSON.stringify({ capacity }), 'PX', ttlMs);
      const sources = await redis.hgetall(SOURCES_KEY);
      const names = Object.keys(sources).sort();
      // removed from the cluster: stop, then give the lease back
      for (const name of [...held]) {
        if (!(name in sources)) {
          await handBack(name);
        }
      }
      // renew what is held; a lease lost (expired and taken) means stop at once
      for (const name of [...held]) {
        const ok = await redis.eval(RENEW, 1, `${LEASE_PREFIX}${name}`, opts.nodeId, String(ttlMs)) as number;
        if (ok === 1) goodUntil.set(name, now + ttlMs);
        else { log.warn(`lease of ${name} lost; stopping it`); await stopSource(name); }
      }
      // the fair share by capacity among the live nodes
      const members: Array<{ id: string; capacity: number }> = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${MEMBER_PREFIX}*`, 'COUNT', 200);
        cursor = next;
        const values = keys.length ? await redis.mget(...keys) : [];
        keys.forEach((k, i) => {
          let c = 1;
          try { c = Number((JSON.parse(values[i] ?? '{}') as { capacity?: number }).capacity ?? 1); } catch { /* 1 */ }
          members.push({ id: k.slice(MEMBER_PREFIX.length), capacity: c > 0 ? c : 1 });
        });
      } while (cursor !== '0');
      const total = members.reduce((a, m) => a + m.capacity, 0) || capacity;
      const share = Math.ceil((names.length * capacity) / total);
      // beyond the share (a node joined): stop the newest-named extras, then release them
      for (const name of [...held].sort().reverse().slice(0, Math.max(0, held.size - share))) {
        await handBack(name);
        log.info(`${name} handed over (this node's share is ${share})`);
      }
      // free sources up to the share, in an order that differs by node (fewer collisions)
      if (held.size < share) {
        const owners = names.length ? await redis.mget(...names.map((n) => `${LEASE_PREFIX}${n}`)) : [];
        const free = names.filter((_, i) => owners[i] == null);
        const offset = [...opts.nodeId].reduce((a, c) => a + c.charCodeAt(0), 0);
        for (let k = 0; k < free.length && held.size < share; k++) {
          const name = free[(k + offset) % free.length]!;
          const won = await redis.set(`${LEASE_PREFIX}${name}`, opts.nodeId, 'PX', ttlMs, 'NX');
          if (won !== 'OK') continue;
          let config: unknown;
          try { config = JSON.parse(sources[name]!); } catch { config = undefined; }
          held.add(name);
          goodUntil.set(name, Date.now() + ttlMs);
          try {
            await opts.start(name, config);
          } catch (err) {
            log.warn(`starting ${name}: ${(err as Error).message}; handing it back`);
            forget(name);
            await release(name);
          }
        }
      }
      if (warned) log.info('Redis is back: leases renewed');
      warned = false;
    } catch (err) {
      if (!warned) log.warn(`leases: Redis unreachable (${(err as Error).message}); sources stop once their leases may have expired`);
      warned = true;
      // fencing: without Redis this node cannot know its leases are still its own
      for (const name of [...held]) if ((goodUntil.get(name) ?? 0) - tickMs <= Date.now()) await stopSource(name);
    }
  };

  const tick = () => (running ??= round().finally(() => { running = undefined; }));
  const timer = setInterval(() => void tick(), tickMs);
  timer.unref();
  void tick();

  return {
    held,
    async add(name, config, o = {}) {
      if (o.ifAbsent) return (await redis.hsetnx(SOURCES_KEY, name, JSON.stringify(config))) === 1;
      await redis.hset(SOURCES_KEY, name, JSON.stringify(config));
      void tick();
      return true;
    },
    seed(name, config) {
      seeds.set(name, JSON.stringify(config));
      void tick();
    },
    async remove(name) {
      seeds.delete(name);
      const n = await redis.hdel(SOURCES_KEY, name);
      void tick();
      return n === 1;
    },
    async list() {
      const sources = await redis.hgetall(SOURCES_KEY);
      const names = Object.keys(sources).sort();
      const owners = names.length ? await redis.mget(...names.map((n) => `${LEASE_PREFIX}${n}`)) : [];
      return names.map((name, i) => {
        let config: unknown;
        try { config = JSON.parse(sources[name]!); } catch { config = undefined; }
        return { name, config, owner: owners[i] ?? null };
      });
    },
    tick,
    async release() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running?.catch(() => {});
      for (const name of [...held]) {
        await handBack(name).catch(() => {});
      }
      await redis.del(`${MEMBER_PREFIX}${opts.nodeId}`).catch(() => {});
      redis.disconnect();
    },
  };
}
