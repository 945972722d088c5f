// A file of its own: node-media-server keeps its configuration in a process-wide
// singleton, so a server with publish authentication cannot share a process with another.
import { describe, expect, it } from 'vitest';
import { publish } from '../src/demo/publish.ts';
import { video, waitFor } from './helpers.ts';

const publishers: Array<{ stop(): Promise<void> }> = [];

describe('publish authentication', () => {
  it('with a publish secret, an unsigned publisher is refused and a signed one analysed', async () => {
    const { startApp } = await import('../src/app.ts');
    const { parseAppConfig } = await import('../src/config.ts');
    const { signPublishUrl } = await import('../plugins/node-media-server/server.ts');
    const app2 = await startApp(parseAppConfig({
      rtmp: { port: 0, host: '127.0.0.1', publishSecret: 'secret-for-test' }, http: { port: 0, host: '127.0.0.1' },
      storage: { file: ':memory:' }, pipeline: 'default',
    }, 'test'));
    try {
      const url = `rtmp://127.0.0.1:${app2.rtmpPort}/live/secure`;
      const unsigned = publish(video('talking-d0.mp4'), url, { reencode: true });
      publishers.push(unsigned);
      expect(await unsigned.exited).not.toBe(0);
      expect(app2.plugin.streams.size).toBe(0);
      const signed = publish(video('talking-d3.mp4'), signPublishUrl(url, 'secret-for-test'), { loop: true, reencode: true });
      publishers.push(signed);
      const s = await waitFor(() => app2.plugin.streams.get('/live/secure'), 10_000, 'the signed stream');
      await waitFor(() => s.stats.frames > 2, 15_000, 'frames');
      await signed.stop();
    } finally {
      await Promise.all(publishers.map((p) => p.stop()));
      await app2.stop();
    }
  });
});
