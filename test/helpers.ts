import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { dataDir } from '../src/data.ts';

export const video = (name: string) => path.join(dataDir(), 'video', name);

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
