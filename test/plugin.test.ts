import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import NodeMediaServer from 'node-media-server';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkVersion, quietNmsLogger, register, type FacestreamPlugin } from '../plugins/node-media-server/index.ts';
import { freePort } from '../src/app.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { FacestreamError } from '../src/errors.ts';
import { loadPipeline } from '../src/pipeline/schema.ts';
import { pidAlive, video, waitFor, waitGone } from './helpers.ts';

let nms: NodeMediaServer;
let plugin: FacestreamPlugin;
let port: number;
const events: FacestreamEvent[] = [];
const store = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-nms-test-'));
const publishers: Publisher[] = [];
const of = (stream: string, type: string) => events.filter((e) => e.stream === stream && e.type === type);

beforeAll(async () => {
  port = await freePort();
  quietNmsLogger('error');
  nms = new NodeMediaServer({ bind: '127.0.0.1', rtmp: { port }, store: { path: store }, webadmin: { enable: false } });
  const pipeline = loadPipeline('default');
  pipeline.elements[0]!.options.stallTimeoutMs = 3000;
  plugin = register(nms, { rtmpPort: port, pipeline, onEvent: (e) => events.push(e), publisherIdleMs: 3000 });
  await nms.run();
  await new Promise((r) => setTimeout(r, 200));
});

afterAll(async () => {
  await Promise.all(publishers.map((p) => p.stop()));
  await plugin?.stopAll();
  await nms?.stop();
  fs.rmSync(store, { recursive: true, force: true });
});

function start(name: string, clip = 'talking-d3.mp4'): Publisher {
  // Re-encoded with a keyframe every second, as OBS or a camera sends; the shared clips
  // have keyframes up to 10 s apart, and a reader can only start at a keyframe.
  const p = publish(video(clip), `rtmp://127.0.0.1:${port}/live/${name}`, { loop: true, reencode: true });
  publishers.push(p);
  return p;
}

describe('node-media-server plugin', () => {
  it('refuses unsupported server versions at registration, naming the range', () => {
    expect(() => checkVersion('2.6.2')).toThrow(FacestreamError);
    expect(() => checkVersion('2.6.2')).toThrow(/>=4\.0\.0 <5\.0\.0/);
    expect(() => checkVersion('5.0.0')).toThrow(/not supported/);
    expect(() => checkVersion('4.4.3')).not.toThrow();
  });

  it('a published stream gets a pipeline with frames; the publisher leaving ends it within the stall timeout', async () => {
    const pub = start('cam1');
    const stream = await waitFor(() => plugin.streams.get('/live/cam1'), 10_000, 'the pipeline to start');
    await waitFor(() => stream.stats.frames >= 5, 15_000, 'frames');
    expect(stream.stats.firstFrameLatencyMs).toBeLessThan(3000);
    expect(of('live/cam1', 'stream.started')).toHaveLength(1);
    const pid = stream.decoderPid;
    const t0 = Date.now();
    await pub.stop();
    const ended = await stream.done;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(ended.frames).toBeGreaterThanOrEqual(5);
    expect(plugin.streams.has('/live/cam1')).toBe(false);
    await waitGone(pid);
  });

  it('a publisher that freezes with its connection open (SIGSTOP) is closed and its analysis ends after publisherIdleMs', async () => {
    const pub = start('frozen');
    const stream = await waitFor(() => plugin.streams.get('/live/frozen'), 10_000, 'the pipeline to start');
    await waitFor(() => stream.stats.frames >= 3, 15_000, 'frames');
    process.kill(pub.pid!, 'SIGSTOP');
    try {
      const ended = await Promise.race([stream.done, new Promise<undefined>((r) => setTimeout(r, 15_000))]);
      expect(ended?.type).toBe('stream.ended');
      expect(plugin.streams.has('/live/frozen')).toBe(false);
    } finally {
      process.kill(pub.pid!, 'SIGCONT');
      await pub.stop();
    }
  });

  it('a killed decoder is restarted and frames resume', async () => {
    start('cam2');
    const stream = await waitFor(() => plugin.streams.get('/live/cam2'), 10_000, 'the pipeline to start');
    await waitFor(() => stream.stats.frames >= 3, 15_000, 'frames');
    const pid = stream.decoderPid!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => of('live/cam2', 'stream.restarting').length > 0, 5000, 'a restart');
    const before = stream.stats.frames;
    await waitFor(() => stream.stats.frames >= before + 5, 15_000, 'frames after the restart');
    expect(stream.decoderPid).not.toBe(pid);
    expect(pidAlive(pid)).toBe(false);
    expect(stream.stats.restarts).toBe(1);
    await plugin.stop('/live/cam2');
  });

  it('two streams run independently; a duplicate publisher does not start a second pipeline', async () => {
    const a = start('a', 'talking-d3.mp4');
    start('b', 'talking-d0.mp4');
    const sa = await waitFor(() => plugin.streams.get('/live/a'), 10_000, 'stream a');
    const sb = await waitFor(() => plugin.streams.get('/live/b'), 10_000, 'stream b');
    await waitFor(() => sa.stats.frames >= 3 && sb.stats.frames >= 3, 15_000, 'frames on both');
    const dup = start('a', 'talking-d0.mp4'); // rejected by the server as a duplicate path
    await dup.exited;
    expect(plugin.streams.get('/live/a')).toBe(sa);
    expect(of('live/a', 'stream.started')).toHaveLength(1);
    await a.stop();
    await sa.done;
    const bFrames = sb.stats.frames;
    await waitFor(() => sb.stats.frames > bFrames + 3, 10_000, 'b to go on after a ended');
    expect(sb.state).toBe('live');
    await plugin.stop('/live/b');
  });
});
