import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Subject, firstValueFrom, lastValueFrom, toArray, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import { FacestreamError } from '../src/errors.ts';
import { findFfmpeg } from '../src/ingest/ffmpeg-path.ts';
import { Flow } from '../src/ingest/flow.ts';
import { activeDecoderPids, fromSource, type SourceEvent } from '../src/ingest/fromSource.ts';
import { boundedMap } from '../src/operators/boundedMap.ts';
import { pidAlive, video, waitGone } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-ingest-'));

describe('fromSource on files', () => {
  it.each([[5, 59], [2, 24], [10, 118]])('talking-d3 (11.8 s) at %i fps yields %i frames (within one)', async (fps, expected) => {
    const frames = await lastValueFrom(fromSource(video('talking-d3.mp4'), { fps }).pipe(toArray()));
    expect(Math.abs(frames.length - expected)).toBeLessThanOrEqual(1);
    const f = frames[3]!;
    expect(f).toMatchObject({ source: video('talking-d3.mp4'), seq: 3, ptsMs: Math.round(3000 / fps), width: 512, height: 512 });
    expect(f.data.length).toBe(512 * 512 * 3);
    // real pixels, not a blank buffer
    expect(new Set(f.data.subarray(0, 3000)).size).toBeGreaterThan(20);
  });

  it('scales frames down to maxWidth, keeping the aspect', async () => {
    const f = await firstValueFrom(fromSource(video('pedestrians-1080p.mp4'), { fps: 5, maxWidth: 640 }));
    expect([f.width, f.height]).toEqual([640, 360]);
  });

  it('a stream whose resolution changes mid-way: no frame lost, all at the first size, the pipeline runs through it', async () => {
    const parts = [320, 640].map((side) => {
      const out = path.join(tmp, `part-${side}.ts`);
      const r = spawnSync(findFfmpeg().path, ['-v', 'error', '-y', '-i', video('talking-d0.mp4'), '-an', '-vf', `scale=${side}:${side}`,
        '-c:v', 'libx264', '-preset', 'veryfast', '-f', 'mpegts', out]);
      expect(r.status).toBe(0);
      return fs.readFileSync(out);
    });
    const clip = path.join(tmp, 'resolution-change.ts');
    fs.writeFileSync(clip, Buffer.concat(parts)); // one MPEG-TS stream, new SPS half-way
    const frames = await lastValueFrom(fromSource(clip, { fps: 5 }).pipe(toArray()));
    expect(frames.length).toBeGreaterThanOrEqual(30);
    // ffmpeg scales the later frames to the size its output started with
    expect(new Set(frames.map((f) => `${f.width}x${f.height}`))).toEqual(new Set(['320x320']));
    for (const f of frames) expect(f.data.length).toBe(f.width * f.height * 3);
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'facestream.js'), 'analyze', clip, '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ type: 'stream.ended', frames: frames.length });
    expect(events.filter((e) => e.type === 'track.started').length).toBeGreaterThanOrEqual(1);
  });

  it('a truncated file ends with a clear error and no orphan ffmpeg', async () => {
    const bad = path.join(tmp, 'truncated.mp4');
    fs.writeFileSync(bad, fs.readFileSync(video('talking-d3.mp4')).subarray(0, 100_000));
    const events: SourceEvent[] = [];
    const err = await lastValueFrom(fromSource(bad, { onEvent: (e) => events.push(e) })).catch((e) => e);
    expect(err).toBeInstanceOf(FacestreamError);
    expect(err.code).toBe('FS_ERR_SOURCE_FAILED');
    expect(err.message).toContain(bad);
    const pid = events.find((e) => e.type === 'decoder.started')!;
    await waitGone((pid as { pid: number }).pid);
  });

  it('a missing file or an unknown scheme is refused before ffmpeg starts', () => {
    expect(() => fromSource(path.join(tmp, 'nope.mp4'))).toThrow(/no such file/);
    expect(() => fromSource('ftp://example/x.mp4')).toThrow(/unsupported source URL/);
  });

  it('unsubscribing kills ffmpeg', async () => {
    let pid: number | undefined;
    const sub = fromSource(video('talking-d6.mp4'), { fps: 1, onEvent: (e) => { if (e.type === 'decoder.started') pid = e.pid; } })
      .subscribe();
    await new Promise((r) => setTimeout(r, 300));
    expect(pidAlive(pid)).toBe(true);
    sub.unsubscribe();
    await waitGone(pid);
    expect(activeDecoderPids()).not.toContain(pid);
  });

  it('a slow stage pauses a file source: no frame is dropped', async () => {
    const flow = new Flow();
    let dropped = 0;
    let paused = 0;
    flow.onChange((p) => { if (p) paused++; });
    const out = await lastValueFrom(fromSource(video('talking-d0.mp4'), { fps: 10, flow }).pipe(
      boundedMap(async (f) => { await new Promise((r) => setTimeout(r, 15)); return f.seq; }, { maxQueue: 2, live: false, flow, onDrop: () => dropped++ }),
      toArray(),
    ));
    expect(dropped).toBe(0);
    expect(paused).toBeGreaterThan(0);
    expect(out).toEqual([...out.keys()]); // every frame, in order
    expect(Math.abs(out.length - 31)).toBeLessThanOrEqual(1);
  });
});

describe('fromSource on live URLs', () => {
  it('an unreachable RTSP camera is retried with backoff, then ends with a clear error; no orphan', async () => {
    const events: SourceEvent[] = [];
    const started = Date.now();
    const err = await lastValueFrom(fromSource('rtsp://127.0.0.1:9/cam', {
      maxRestarts: 2, backoffMs: 100, stallTimeoutMs: 3000, onEvent: (e) => events.push(e),
    })).catch((e) => e);
    expect(err).toBeInstanceOf(FacestreamError);
    expect(err.code).toBe('FS_ERR_SOURCE_FAILED');
    expect(err.message).toMatch(/gave up after 2 restarts/);
    const restarts = events.filter((e) => e.type === 'restarting') as Array<{ delayMs: number }>;
    expect(restarts.map((r) => r.delayMs)).toEqual([100, 200]);
    const pids = events.filter((e) => e.type === 'decoder.started').map((e) => (e as { pid: number }).pid);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('boundedMap', () => {
  it('drops the oldest waiting items of a live source when the stage is slow, and counts them', async () => {
    const input = new Subject<number>();
    const dropped: number[] = [];
    const seen: number[] = [];
    const done = lastValueFrom(input.pipe(
      boundedMap(async (n: number) => { await new Promise((r) => setTimeout(r, 20)); return n; },
        { maxQueue: 2, live: true, onDrop: (n) => dropped.push(n) }),
      toArray(),
    ));
    for (let i = 0; i < 10; i++) input.next(i);
    input.complete();
    seen.push(...(await done));
    expect(seen[0]).toBe(0);
    expect(seen.slice(-2)).toEqual([8, 9]); // the newest survive
    expect(dropped).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen.length + dropped.length).toBe(10);
  });

  it('passes a stage error on', async () => {
    const input = new Subject<number>();
    const r = firstValueFrom(input.pipe(boundedMap(() => { throw new Error('boom'); }, { maxQueue: 1, live: true }), take(1))).catch((e) => e.message);
    input.next(1);
    expect(await r).toBe('boom');
  });
});
