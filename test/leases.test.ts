/**
 * Pulled sources across nodes (#28), with real processes: a redis-server and facestream's
 * lease manager in separate node processes (test/fixtures/lease-node.ts, the production
 * defaults: leases of 10 s renewed every 2 s). Every source is pulled by exactly one node at
 * any time (start/stop intervals never overlap), a node killed with SIGKILL has its sources
 * taken within 15 s, a node that joins gets its share without a source pulled twice, and
 * SIGTERM hands a node's sources over at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SOURCES_KEY, startLeases } from '../src/cluster/leases.ts';
import { PROJECT_ROOT } from '../src/data.ts';
import { startRedisServer, waitFor } from './helpers.ts';

interface Line { t: number; node: string; event: 'start' | 'stop' | 'up' | 'down'; name?: string }
const lines: Line[] = [];
const procs = new Map<string, ChildProcess>();
let redis: ChildProcess;
let url = '';

function node(id: string): ChildProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test', 'fixtures', 'lease-node.ts'), url, id], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { lines.push(JSON.parse(buf.slice(0, i)) as Line); buf = buf.slice(i + 1); }
  });
  procs.set(id, p);
  return p;
}

/** Who holds each source now, from the start/stop lines. */
function holders(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines) {
    if (!l.name) continue;
    const h = out.get(l.name) ?? [];
    if (l.event === 'start') h.push(l.node);
    if (l.event === 'stop') h.splice(h.indexOf(l.node), 1);
    out.set(l.name, h);
  }
  return out;
}

/** Every moment two nodes pulled the same source (from the ordered lines): none expected. */
function overlaps(): string[] {
  const bad: string[] = [];
  const now = new Map<string, Set<string>>();
  for (const l of [...lines].sort((a, b) => a.t - b.t)) {
    if (!l.name) continue;
    const s = now.get(l.name) ?? new Set();
    if (l.event === 'start') { if (s.size) bad.push(`${l.name}: ${l.node} started while ${[...s]} held it`); s.add(l.node); }
    if (l.event === 'stop') s.delete(l.node);
    now.set(l.name, s);
  }
  return bad;
}

const SOURCES = ['cam1', 'cam2', 'cam3', 'cam4', 'cam5', 'cam6'];
const count = (id: string) => [...holders().values()].filter((h) => h.includes(id)).length;
const allHeldOnce = () => SOURCES.every((s) => (holders().get(s) ?? []).length === 1);

beforeAll(async () => {
  ({ proc: redis, url } = await startRedisServer());
  const r = new Redis(url);
  for (const s of SOURCES) await r.hset(SOURCES_KEY, s, JSON.stringify({ name: s, url: `rtsp://127.0.0.1:9/${s}` }));
  r.disconnect();
});
afterAll(() => {
  for (const p of procs.values()) p.kill('SIGKILL');
  redis?.kill('SIGKILL');
});

describe('source leases across node processes', () => {
  it('one holder per source; SIGKILL taken over within 15 s; a new node gets its share; SIGTERM hands over', async () => {
    node('A'); node('B'); node('C');
    await waitFor(() => allHeldOnce() && ['A', 'B', 'C'].every((n) => count(n) === 2), 20_000, 'six sources, two per node');

    // SIGKILL: no handover; the leases expire (10 s) and the others take them
    const killedAt = Date.now();
    procs.get('C')!.kill('SIGKILL');
    const orphaned = [...holders()].filter(([, h]) => h.includes('C')).map(([s]) => s);
    // the dead process never says stop: its sources are taken when A and B start them
    const takenBy = () => orphaned.map((s) => lines.find((l) => l.name === s && l.event === 'start' && l.t > killedAt));
    await waitFor(() => takenBy().every(Boolean), 20_000, 'the dead node\'s sources taken');
    const moveMs = Math.max(...takenBy().map((l) => l!.t - killedAt));
    expect(moveMs).toBeLessThan(15_000);
    // from here on, C's lines are void (it is dead): drop its holds
    for (const s of orphaned) lines.push({ t: killedAt, node: 'C', event: 'stop', name: s });
    expect(overlaps()).toEqual([]);
    expect(count('A') + count('B')).toBe(6);

    // a node joins: shares become 2 each again, every move stop-before-start
    node('D');
    await waitFor(() => allHeldOnce() && ['A', 'B', 'D'].every((n) => count(n) === 2), 20_000, 'D with its share');
    expect(overlaps()).toEqual([]);

    // SIGTERM: handed over at once (well before a lease would expire)
    const termAt = Date.now();
    procs.get('D')!.kill('SIGTERM');
    await waitFor(() => lines.some((l) => l.node === 'D' && l.event === 'down'), 10_000, 'D down');
    await waitFor(() => allHeldOnce() && count('D') === 0, 10_000, 'D\'s sources taken');
    const handoverMs = Math.max(...lines.filter((l) => l.event === 'start' && l.t > termAt).map((l) => l.t - termAt));
    expect(handoverMs).toBeLessThan(5000);
    expect(overlaps()).toEqual([]);
    console.log(JSON.stringify({ moveAfterSigkillMs: moveMs, handoverAfterSigtermMs: handoverMs }));
  }, 90_000);

  it('the sources of a node\'s config reach the cluster even when Redis is not up yet at start-up (they were lost before)', async () => {
    const { freePort } = await import('../src/app.ts');
    const port = await freePort();
    const started: string[] = [];
    const leases = startLeases({ url: `redis://127.0.0.1:${port}`, nodeId: 'early', start: (name) => { started.push(name); }, stop: () => {} });
    try {
      leases.seed('door', { name: 'door', url: 'rtsp://127.0.0.1:9/door' });
      await new Promise((r) => setTimeout(r, 2500)); // a round or two against nothing
      expect(started).toEqual([]);
      const late = await startRedisServer(port);
      try {
        await waitFor(() => started.includes('door'), 15_000, 'the seeded source pulled once Redis is up');
        expect((await leases.list()).map((x) => [x.name, x.owner])).toEqual([['door', 'early']]);
      } finally {
        await leases.release();
        late.proc.kill('SIGKILL');
      }
    } finally {
      await leases.release();
    }
  }, 40_000);
});
