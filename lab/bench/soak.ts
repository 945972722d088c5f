/**
 * `npm run soak` (`facestream soak [--minutes 10]`): facestream as operators run it, for a
 * while, watched from outside. It starts `facestream start` as its own process, publishes
 * two looping clips to it over RTMP with ffmpeg (the demo clip: faces that come and go;
 * a talking person), keeps a socket.io client subscribed to everything, and samples every
 * 5 s: the process' RSS (from /proc), open file descriptors, ffmpeg children, and from
 * /metrics its heap and live tensors and the frames analysed.
 *
 * Verdict, on the samples after the first minute (warm-up: models, caches, JIT): a series
 * fails if the median of its last third exceeds the median of its first third by more than
 * its allowance (RSS and heap: 5%; tensors: 0; descriptors: 2; ffmpeg children: 0), or if
 * analysis stopped. The least-squares slope per hour is reported too. A report is written to test-output/soak-report.json and .md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io } from 'socket.io-client';
import { PROJECT_ROOT, dataDir } from '../../src/data.ts';
import { demoClip } from '../../src/demo/clip.ts';
import { findFfmpeg } from '../../src/ingest/ffmpeg-path.ts';
import { childPids } from '../proc.ts';
import { median } from './stats.ts';

interface Sample { t: number; rssMb: number; heapMb: number; tensors: number; fds: number; ffmpeg: number; analysed: number; events: number }

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && /^[a-z_]+(\{[^}]*\})? /.test(line)) sum += Number(line.split(' ').at(-1));
  return sum;
}

/** Least-squares slope of y over t (units per second). */
function slope(t: number[], y: number[]): number {
  const n = t.length;
  const mt = t.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (t[i]! - mt) * (y[i]! - my); den += (t[i]! - mt) ** 2; }
  return den ? num / den : 0;
}

export async function soak(opts: { minutes?: number; out?: string } = {}) {
  const minutes = opts.minutes ?? 10;
  const outDir = opts.out ?? path.join(PROJECT_ROOT, 'test-output');
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-soak-'));
  const config = path.join(tmp, 'facestream.yaml');
  fs.writeFileSync(config, ['rtmp: { port: 0, host: 127.0.0.1 }', 'http: { port: 0, host: 127.0.0.1 }',
    `storage: { file: ${JSON.stringify(path.join(tmp, 'soak.db'))}, statsIntervalMs: 5000 }`].join('\n'));
  const clips = [await demoClip(), path.join(dataDir(), 'video', 'talking-d6.mp4')];
  const procs: ChildProcess[] = [];
  const server = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'facestream.js'), 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(server);
  let log = '';
  server.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-20_000); });
  const stop = () => { for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM'); };
  process.once('SIGINT', () => { stop(); process.exit(130); });
  try {
    const until = Date.now() + 60_000;
    let url: string | undefined, rtmp: string | undefined;
    while (!(url && rtmp)) {
      if (Date.now() > until || server.exitCode !== null) throw new Error(`facestream did not start:\n${log}`);
      url = /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(log)?.[1];
      rtmp = /RTMP on 127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      await new Promise((r) => setTimeout(r, 200));
    }
    clips.forEach((clip, i) => procs.push(spawn(findFfmpeg().path, ['-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip,
      '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-f', 'flv', `rtmp://127.0.0.1:${rtmp}/live/soak${i + 1}`], { stdio: 'ignore' })));
    let events = 0;
    const client = io(url, { transports: ['websocket'] });
    client.on('connect', () => client.emit('subscribe', '*'));
    client.on('event', () => { events++; });

    const samples: Sample[] = [];
    const t0 = Date.now();
    const end = t0 + minutes * 60_000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 5000));
      if (server.exitCode !== null) throw new Error(`facestream exited (${server.exitCode}) during the soak:\n${log}`);
      const m = await (await fetch(`${url}/metrics`)).text();
      const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
      samples.push({
        t: (Date.now() - t0) / 1000,
        rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024,
        heapMb: metric(m, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        tensors: metric(m, 'facestream_tensors'),
        fds: fs.readdirSync(`/proc/${server.pid}/fd`).length,
        ffmpeg: childPids(server.pid!, 'ffmpeg').length,
        analysed: metric(m, 'facestream_frames_analysed_total'),
        events,
      });
      const s = samples.at(-1)!;
      process.stderr.write(`soak ${s.t.toFixed(0)} s: rss ${s.rssMb.toFixed(1)} MB, heap ${s.heapMb.toFixed(1)} MB, tensors ${s.tensors}, fds ${s.fds}, ffmpeg ${s.ffmpeg}, analysed ${s.analysed}, events ${s.events}\n`);
    }
    client.close();
    const after = samples.filter((s) => s.t >= Math.min(60, (minutes * 60) / 3));
    const t = after.map((s) => s.t);
    // robust to GC's saw-tooth: the medians of the first and the last third of the samples
    // after warm-up; a series fails when the last exceeds the first by more than its allowance
    const allowances = { rssMb: 0.05, heapMb: 0.05, tensors: 0, fds: 2, ffmpeg: 0 } as const;
    const third = Math.max(1, Math.floor(after.length / 3));
    const verdicts = Object.fromEntries(Object.entries(allowances).map(([k, allowance]) => {
      const y = after.map((s) => s[k as keyof Sample]);
      const early = median(y.slice(0, third)), late = median(y.slice(-third));
      const allowed = k.endsWith('Mb') ? allowance * early : allowance;
      const ok = late - early <= allowed;
      const r1 = (v: number) => +v.toFixed(1);
      return [k, { first: r1(y[0]!), last: r1(y.at(-1)!), min: r1(Math.min(...y)), max: r1(Math.max(...y)),
        earlyMedian: r1(early), lateMedian: r1(late), slopePerHour: +(slope(t, y) * 3600).toFixed(2), ok }];
    }));
    const analysedPerMin = after.length > 1 ? ((after.at(-1)!.analysed - after[0]!.analysed) / (after.at(-1)!.t - after[0]!.t)) * 60 : 0;
    const ok = Object.values(verdicts).every((v) => v.ok) && analysedPerMin > 0 && samples.at(-1)!.ffmpeg === 2;
    const report = {
      ok, minutes, streams: 2, clips: clips.map((c) => path.basename(c)), machine: `${os.cpus().length} x ${os.cpus()[0]?.model}, node ${process.version}`,
      date: new Date().toISOString(), analysedFramesPerMinute: Math.round(analysedPerMin), eventsReceived: events, series: verdicts, samples,
    };
    fs.writeFileSync(path.join(outDir, 'soak-report.json'), JSON.stringify(report, null, 1));
    fs.writeFileSync(path.join(outDir, 'soak-report.md'), [
      `# Soak: ${ok ? 'passed' : 'FAILED'}`, '',
      `${minutes} min, 2 RTMP streams (${report.clips.join(', ')}), one subscribed socket.io client; ${report.machine}; ${report.date}.`,
      `Analysed ${report.analysedFramesPerMinute} frames/min after warm-up; ${events} events received.`, '',
      '| series | first | last | min | max | median, first third | median, last third | slope per hour | ok |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...Object.entries(verdicts).map(([k, v]) => `| ${k} | ${v.first} | ${v.last} | ${v.min} | ${v.max} | ${v.earlyMedian} | ${v.lateMedian} | ${v.slopePerHour} | ${v.ok ? 'yes' : 'NO'} |`), '',
    ].join('\n'));
    return report;
  } finally {
    stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
