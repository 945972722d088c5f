/**
 * The Redis bus as the history of a resuming client (#27): events appended under their own
 * ids, read back after a cursor per stream or after `since` for every stream, a stream
 * trimmed past the cursor reported as a gap, and an event whose id the key already passed
 * appended under a Redis id rather than lost; events that leave a full queue while the batch
 * holding them is being appended are not lost, nor counted as dropped. Against a real
 * redis-server on a free port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startRedisBus, STREAM_KEY_PREFIX, type RedisBus } from '../src/events/bus.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { startRedisServer, waitFor, waitForAsync } from './helpers.ts';

let redis: ChildProcess;
let url = '';
let bus: RedisBus;
const ev = (stream: string, id: string) => ({ id, v: 1, type: 'stats', stream, ts: Number(id.split('-')[0]), since: 0, people: 0, male: 0, female: 0, ageGroups: {}, smilingShare: null, meanDwellMs: null, inView: 0 }) as FacestreamEvent;

beforeAll(async () => {
  ({ proc: redis, url } = await startRedisServer());
  bus = startRedisBus({ url, nodeId: 'n1', maxLen: 100, localStreams: () => [] });
  await waitFor(() => bus.stats.connected, 10_000, 'the bus');
});
afterAll(async () => {
  await bus?.close();
  redis?.kill('SIGTERM');
});

describe('Redis bus replay', () => {
  it('sends what a client missed, per stream and by since, and names trimmed streams as gaps', async () => {
    for (let i = 1; i <= 5; i++) bus.append(ev('door', `${1000 + i}-0`));
    for (let i = 1; i <= 3; i++) bus.append(ev('gate', `${2000 + i}-0`));
    await waitFor(() => bus.stats.appended === 8, 5000, 'appends');
    const r = new Redis(url);
    expect((await r.xrange(`${STREAM_KEY_PREFIX}door`, '-', '+')).map(([id]) => id)).toEqual(['1001-0', '1002-0', '1003-0', '1004-0', '1005-0']);

    const one = await bus.replay(['door'], { door: '1003-0' }, undefined, 100);
    expect(one).toEqual({ events: [ev('door', '1004-0'), ev('door', '1005-0')], gaps: [] });
    const all = await bus.replay(['*'], { door: '1004-0' }, '2001-0', 100);
    expect(all.events.map((e) => `${e.stream} ${e.id}`).sort()).toEqual(['door 1005-0', 'gate 2002-0', 'gate 2003-0']);
    // over the limit: what is left is a gap
    expect((await bus.replay(['gate'], { gate: '0-0' }, undefined, 2)).gaps).toEqual(['gate']);

    // trimmed past the cursor (MAXLEN): a gap, with what is left sent
    await r.xtrim(`${STREAM_KEY_PREFIX}door`, 'MAXLEN', 2);
    const trimmed = await bus.replay(['door'], { door: '1001-0' }, undefined, 100);
    expect(trimmed.gaps).toEqual(['door']);
    expect(trimmed.events.map((e) => e.id)).toEqual(['1004-0', '1005-0']);

    // an id the key already passed (the clock went back, another node wrote it): kept under a Redis id
    bus.append(ev('door', '1002-7'));
    await waitFor(() => bus.stats.appended === 9, 5000, 'the append');
    expect(bus.stats.reIdentified).toBe(1);
    const last = await waitForAsync(async () => (await r.xrevrange(`${STREAM_KEY_PREFIX}door`, '+', '-', 'COUNT', 1))[0], 5000, 'the entry');
    expect(JSON.parse(last[1][1]!).id).toBe('1002-7');
    r.disconnect();
  });

  it('a full queue that drops old events while a batch is being appended loses only those it counts', async () => {
    const small = startRedisBus({ url, nodeId: 'n2', maxLen: 100, maxQueued: 3, localStreams: () => [] });
    const r = new Redis(url);
    try {
      await waitFor(() => small.stats.connected, 10_000, 'the second bus');
      redis.kill('SIGSTOP'); // the server holds the first append unanswered
      small.append(ev('hall', '3001-0')); // the batch in flight: [3001]
      for (let i = 2; i <= 5; i++) small.append(ev('hall', `${3000 + i}-0`)); // 3001 and 3002 leave the queue
      expect(small.stats.dropped).toBe(1); // 3002; 3001 is being appended
      redis.kill('SIGCONT');
      await waitFor(() => small.stats.appended === 4 && small.stats.queued === 0, 10_000, 'the appends');
      const ids = (await r.xrange(`${STREAM_KEY_PREFIX}hall`, '-', '+')).map(([id]) => id);
      expect(ids).toEqual(['3001-0', '3003-0', '3004-0', '3005-0']);
      expect(small.stats.dropped).toBe(1);
    } finally {
      redis.kill('SIGCONT');
      r.disconnect();
      await small.close();
    }
  });
});
