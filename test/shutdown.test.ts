import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import type { FacestreamEvent } from '../src/events/types.ts';
import { childPids } from '../lab/proc.ts';
import { video, waitFor, waitGone } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-shutdown-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('graceful shutdown', () => {
  it('SIGTERM: open tracks end and reach the subscribed client and the database, ffmpeg is killed, exit 0 within 5 s', async () => {
    const db = path.join(tmp, 'agg.db');
    const config = path.join(tmp, 'facestream.yaml');
    fs.writeFileSync(config, [
      'rtmp: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      `storage: { file: ${JSON.stringify(db)} }`,
      'sources:',
      `  - { name: lobby, url: ${JSON.stringify(video('talking-d6.mp4'))}, realtime: true }`,
    ].join('\n'));
    const child = spawn(process.execPath, [bin, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = await waitFor(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1], 30_000, 'the server');
    const client = io(url, { transports: ['websocket'], reconnection: false });
    const events: FacestreamEvent[] = [];
    client.on('event', (e: FacestreamEvent) => events.push(e));
    try {
      await client.emitWithAck('subscribe', { streams: ['lobby'] });
      const started = await waitFor(() => events.find((e) => e.type === 'track.started'), 40_000, 'a track to start');
      const ffmpeg = childPids(child.pid!, 'ffmpeg');
      expect(ffmpeg.length).toBeGreaterThanOrEqual(1);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const tookMs = Date.now() - t0;
      expect(code, err).toBe(0);
      expect(tookMs).toBeLessThan(5000);
      for (const p of ffmpeg) await waitGone(p, 2000); // killed by facestream itself (reaping may lag a moment)
      // the open track was ended by the shutdown, sent to the client, and stored
      const ended = events.find((e) => e.type === 'track.ended' && e.trackId === (started as { trackId: number }).trackId);
      expect(ended, `events: ${events.map((e) => e.type).join(',')}`).toBeDefined();
      expect(events.some((e) => e.type === 'stream.ended')).toBe(true);
      const rows = new Database(db, { readonly: true }).prepare('SELECT COUNT(*) AS n FROM tracks WHERE stream = ?').get('lobby') as { n: number };
      expect(rows.n).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
