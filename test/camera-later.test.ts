import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import { video, waitFor } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-later-'));
let app: App | undefined;
let pub: Publisher | undefined;
afterAll(async () => {
  await pub?.stop();
  await app?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a pulled camera that is down at start', () => {
  it('is retried with backoff while down, and analysed once it comes up', async () => {
    const rtmpPort = await freePort();
    const url = `rtmp://127.0.0.1:${rtmpPort}/live/gate`; // the camera: nobody publishes it yet
    app = await startApp(parseAppConfig({
      rtmp: { port: rtmpPort, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' },
      storage: { file: path.join(dir, 'agg.db') },
      sources: [{ name: 'gate', url }],
    }, 'test'));
    const events = () => app!.events('gate');
    await waitFor(() => events().some((e) => e.type === 'stream.restarting'), 20_000, 'a restart while the camera is down');
    expect(app.streams()[0]).toMatchObject({ name: 'gate', frames: 0 });
    pub = publish(video('talking-d6.mp4'), url, { reencode: true, loop: true });
    await waitFor(() => (app!.streams()[0]?.frames ?? 0) > 5, 40_000, 'frames once the camera is up');
    expect(app.streams()[0]!.state).toBe('live');
    await waitFor(() => events().some((e) => e.type === 'track.started'), 30_000, 'a track on the camera');
    expect(events().some((e) => e.type === 'stream.error')).toBe(false);
  });
});
