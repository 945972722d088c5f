import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../src/data.ts';
import { video, waitFor } from './helpers.ts';

const bin = path.join(PROJECT_ROOT, 'bin', 'facestream.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-cli-'));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });

describe('facestream analyze', () => {
  it('--json prints stream.started and a stream.ended whose frame count matches the clip', () => {
    const r = run(['analyze', video('talking-d3.mp4'), '--fps', '5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'stream.started', v: 1, live: false, pipeline: 'default' });
    const ended = lines.at(-1);
    expect(ended.type).toBe('stream.ended');
    expect(Math.abs(ended.frames - 59)).toBeLessThanOrEqual(1); // 11.8 s at 5 fps
    expect(ended.dropped).toBe(0);
    expect(ended.error).toBeUndefined();
  });

  it('a corrupt file exits non-zero with a one-line reason', () => {
    const bad = path.join(tmp, 'corrupt.mp4');
    fs.writeFileSync(bad, Buffer.from('definitely not a video'));
    const r = run(['analyze', bad, '--json']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^facestream: FS_ERR_SOURCE_FAILED: cannot decode .*corrupt\.mp4/);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['stream.started', 'stream.error', 'stream.ended']);
  });

  it('a misspelt pipeline key fails at load, naming the key and the file', () => {
    const file = path.join(tmp, 'typo.yaml');
    fs.writeFileSync(file, 'name: typo\nelements:\n  - ingest:\n      fsp: 5\n');
    const r = run(['analyze', video('talking-d0.mp4'), '--pipeline', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown key "elements[0].ingest.fsp"');
    expect(r.stderr).toContain(file);
  });

  it('no ffmpeg is a clear error that says how to install one', () => {
    const r = run(['analyze', video('talking-d0.mp4')], { FFMPEG_PATH: path.join(tmp, 'no-ffmpeg') });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FS_ERR_FFMPEG_NOT_FOUND: FFMPEG_PATH=.* is not a working ffmpeg/);
  });
});

describe('the command line as a Unix tool', () => {
  it('--json into a reader that leaves (| head -1) ends quietly with 0', async () => {
    const child = spawn(process.execPath, [bin, 'analyze', video('talking-d9.mp4'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const first = await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString().split('\n')[0]!)));
    child.stdout.destroy(); // what head does after its first line
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(JSON.parse(first).type).toBe('stream.started');
    expect(code).toBe(0);
    expect(err).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(err.length).toBeLessThan(2000);
  });

  it('--version prints the package version', () => {
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  });

  it('usage errors exit 2 with one line and a pointer to --help, before anything loads', () => {
    for (const args of [['start', '--http-port', '99999'], ['start', '--rtmp-port', '-1'], ['analyze', 'x.mp4', '--fps', '2.5'], ['bogus'], ['analyze']]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
      expect(lines.at(-1)).toContain('--help');
      expect(r.stderr).not.toContain('backend');
    }
  });

  it('a missing input is said before any model loads', () => {
    const r = run(['analyze', path.join(tmp, 'missing.mp4')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no such file');
    expect(r.stderr).not.toContain('tensorflow.js backend');
  });
});

describe('facestream start', () => {
  it('serves the status page and pulls the cameras listed under sources', async () => {
    const config = path.join(tmp, 'facestream.yaml');
    fs.writeFileSync(config, [
      'rtmp: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      `storage: { file: ${JSON.stringify(path.join(tmp, 'agg.db'))} }`,
      'sources:',
      `  - { name: lobby, url: ${JSON.stringify(video('talking-d6.mp4'))} }`,
    ].join('\n'));
    const child = spawn(process.execPath, [bin, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      const url = await waitFor(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err)?.[1], 30_000, 'the server');
      const page = await (await fetch(url)).text();
      expect(page).toContain('<h1>facestream</h1>');
      expect(await (await fetch(`${url}healthz`)).json()).toMatchObject({ ok: true });
      let streams: Array<{ name: string; kind: string; frames: number }> = [];
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        streams = ((await (await fetch(`${url}api/streams`)).json()) as { streams: typeof streams }).streams;
        if (streams[0] && streams[0].frames > 3) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(streams[0]).toMatchObject({ name: 'lobby', kind: 'pulled' });
      expect(streams[0]!.frames).toBeGreaterThan(3);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(child.exitCode).toBe(0);
  });

  it('a config with an unknown key is refused, naming it', () => {
    const config = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(config, 'rtmp: { prot: 1935 }\n');
    const r = run(['start', '--config', config]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown key "rtmp.prot"');
  });
});
