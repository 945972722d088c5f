import { createRequire } from 'node:module';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { dataDir, PROJECT_ROOT } from '../src/data.ts';

export const video = (name: string) => path.join(dataDir(), 'video', name);

/**
 * Whether the optional onnxruntime-node resolves here: the native engine's tests run only
 * where it does; everything else passes without it (the wasm fallback).
 */
export const onnxruntimeInstalled: boolean = (() => {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();

/** Whether a process runs (a zombie, dead and waiting to be reaped by init, does not). */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitFor<T>(fn: () => T | undefined | false | null, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until a process has exited (and is reaped), or fails. */
export async function waitGone(pid: number | undefined, timeoutMs = 3000): Promise<void> {
  await waitFor(() => !pidAlive(pid), timeoutMs, `process ${pid} to exit`);
}

/** waitFor with an async probe (HTTP, Redis). */
export async function waitForAsync<T>(fn: () => Promise<T | undefined | false | null>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Sends raw bytes to a server on 127.0.0.1 over TCP (malformed requests fetch cannot send)
 * and resolves with what came back by the time the server closed or `timeoutMs` passed.
 */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.setTimeout(timeoutMs, () => s.destroy());
    s.end(data);
  });
}

/** A redis-server on a free port of 127.0.0.1, without persistence: its process and URL. */
export async function startRedisServer(port?: number): Promise<{ proc: ChildProcess; url: string; port: number }> {
  const { freePort } = await import('../src/app.ts');
  const p = port ?? await freePort();
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.on('error', (e) => { out += `spawn failed: ${e.message} (apt-get install -y redis-server)`; });
  await waitFor(() => /Ready to accept connections/.test(out) || /spawn failed/.test(out), 10_000, 'redis-server');
  if (!/Ready to accept connections/.test(out)) throw new Error(`redis-server did not start: ${out.slice(-500)}`);
  return { proc, url: `redis://127.0.0.1:${p}`, port: p };
}

/**
 * A throw-away PostgreSQL cluster on a free port of 127.0.0.1 (run as the postgres user when
 * the tests run as root: initdb refuses root): its URL and pg_ctl start/stop.
 */
export async function startPostgresServer(): Promise<{ url: string; ctl: (action: 'start' | 'stop') => void }> {
  const { freePort } = await import('../src/app.ts');
  const bin = fs.readdirSync('/usr/lib/postgresql').sort().map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => fs.existsSync(`${d}/initdb`));
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  };
  if (asRoot) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    fs.chownSync(dir, Number(uid), Number(gid));
  }
  run(`${bin}/initdb`, ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const ctl = (action: 'start' | 'stop') => run(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-l', `${dir}/log`, '-w', '-m', 'fast', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, action]);
  ctl('start');
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, ctl };
}

/** A `facestream start` in a child process (the cluster tests' nodes). */
export interface NodeProcess {
  id: string;
  child: ChildProcess;
  /** Its dashboard's origin, http://127.0.0.1:PORT. */
  http: string;
  rtmpPort: number;
  /** What it has written on stderr so far. */
  log: () => string;
}

/**
 * `facestream start --config DIR/ID.yaml` with these config lines; added to `procs` (the test
 * kills what is left of them); resolves once its dashboard listens.
 */
export async function startNodeProcess(id: string, lines: string[], o: { dir: string; procs: ChildProcess[]; timeoutMs: number }): Promise<NodeProcess> {
  const config = path.join(o.dir, `${id}.yaml`);
  fs.writeFileSync(config, lines.join('\n'));
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'facestream.js'), 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  o.procs.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const http = await waitFor(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1], o.timeoutMs, `node ${id}`);
  const rtmpPort = Number(/RTMP on 127\.0\.0\.1:(\d+)/.exec(err)?.[1]);
  return { id, child, http, rtmpPort, log: () => err };
}
