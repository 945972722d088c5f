// A fuzz test of the HTTP server: malformed request lines, headers, encodings and bodies,
// generated from a seeded generator (the same cases every run), sent over raw TCP to a
// running server on 127.0.0.1. It must answer every time, stay up, and keep its heap flat.
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { rawRequest } from './helpers.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let app: App;
beforeAll(async () => {
  app = await startApp(parseAppConfig({
    rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1', cors: ['http://a.example'] }, storage: { file: ':memory:' }, maxSources: 8,
  }, 'fuzz'));
});
afterAll(async () => { await app?.stop(); });

/** mulberry32: a small seeded generator, so that a failing case can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const text = (n: number, alphabet = 'abcXYZ019/._-~%[]:@?#&=+ \t"\'\\{}<>$!*(),;') => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
  return { next, int, pick, bytes, text };
}

const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'PATCH', 'BREW', 'G\u00e9T', '', 'GET GET', 'CONNECT'];
const TARGETS = ['/', '//[', '//:99999', '//a:-1/', '/api/sources', '/api/sources/..', '/api/sources/%', '/api/sources/%E0%A4%A',
  '/api/stats?from=-5', '/api/stats?from=1e400&to=-0', '/api/stats?bucket=NaN', '/api/events?stream=%00', '/metrics', '/healthz',
  '/app.js', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/vendor/../../package.json', '/__proto__', '/constructor',
  '/hasOwnProperty', '*', 'http://[::1', 'http://x:99999/', '/\u00ff\u00fe', '/api/sources/' + 'a'.repeat(5000),
  // the integrators' and venues' routes
  '/api/events?after=1-0&limit=1000&type=track.ended', '/api/events?after=99999999999999999-0', '/api/events?type=,,,', '/api/events?limit=-1',
  '/api/events?after=1-0&after=2-0', '/api/report.csv?stream=' + ','.repeat(200), '/api/report.csv?bucket=60000&from=0', '/api/report.html?stream=%3Cscript%3E',
  '/api/report.html?from=2026-01-01&to=2025-01-01', '/api/heatmap?tz=-0', '/api/heatmap?tz=1e3', '/api/info', '/api/schema', '/api/openapi.json',
  // the review's routes
  '/api/tracks?grade=S&gender=female&ageGroup=youth', '/api/tracks?before=-1', '/api/tracks?limit=99999', '/api/tracks?grade=%00',
  '/api/tracks/1-0/snapshot.jpg', '/api/tracks/1-0/snapshot.jpg?stream=', '/api/tracks/1-0/snapshot.jpg?stream=' + 'x'.repeat(300),
  '/api/tracks/%2e%2e/snapshot.jpg?stream=a', '/api/tracks/1-0?stream=live/x', '/api/tracks/99999999999999999-0?stream=a'];
const BODIES = ['{', '[', 'null', '{"name":1}', '{"__proto__":{"polluted":1},"name":"p","url":"rtsp://127.0.0.1:9/x"}',
  '{"name":"x","url":"file:///etc/passwd"}', '{"name":"x","url":"rtsp://127.0.0.1:9/x","pipeline":"/etc/shadow"}',
  '{"name":"..","url":"rtsp://127.0.0.1:9/x"}', '{"name":"ok","url":"gopher://127.0.0.1/"}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  '"\\ud800"', '{"name":"a","url":"rtsp://127.0.0.1:9/x","realtime":true}', '9'.repeat(400), '{"name":"n","url":"' + 'x'.repeat(3000) + '"}'];

function request(r: ReturnType<typeof rng>): Buffer {
  const kind = r.int(6);
  if (kind === 0) return r.bytes(1 + r.int(300)); // noise
  // half the requests are framed well, so that their targets, headers and bodies reach the handlers
  const framed = r.next() < 0.5;
  const method = framed ? r.pick(['GET', 'POST', 'DELETE', 'HEAD', 'PUT']) : r.pick(METHODS);
  const target = r.next() < 0.6 ? r.pick(TARGETS) : '/' + r.text(r.int(80), framed ? 'abcXYZ019/._-~%[]:@?&=+!*(),;' : undefined);
  const version = framed ? 'HTTP/1.1' : r.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1 x', '', 'http/1.1']);
  const headers: string[] = ['Host: ' + (framed ? '127.0.0.1' : r.pick(['127.0.0.1', '', 'x'.repeat(300), 'a:b:c', '[::1'])), 'Connection: close'];
  const body = kind === 5 ? r.bytes(r.int(2000)) : Buffer.from(r.pick(BODIES));
  if (framed) {
    headers.push('Content-Type: ' + r.pick(['application/json', 'application/json', 'text/plain', 'application/json; charset=utf-8']), `Content-Length: ${body.length}`);
    if (r.next() < 0.3) headers.push('Origin: ' + r.pick(['http://evil.example', 'null', 'http://127.0.0.1']));
    return Buffer.concat([Buffer.from(`${method} ${target} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
  }
  if (r.next() < 0.7) headers.push('Content-Type: ' + r.pick(['application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', r.text(20)]));
  const te = r.next() < 0.2;
  if (te) headers.push('Transfer-Encoding: ' + r.pick(['chunked', 'gzip, chunked', 'bogus', 'chunked, chunked']));
  else if (r.next() < 0.85) headers.push('Content-Length: ' + r.pick([String(body.length), '0', '-1', '99999999', 'abc', `${body.length}, ${body.length + 1}`, String(body.length + 5)]));
  if (r.next() < 0.3) headers.push(r.text(1 + r.int(20), 'abcXYZ-_:\u0000\u007f ') + ': ' + r.text(r.int(40)));
  if (r.next() < 0.2) headers.push('Origin: ' + r.pick(['http://evil.example', 'null', 'http://127.0.0.1', r.text(10)]));
  if (r.next() < 0.05) headers.push('X-Big: ' + 'y'.repeat(20_000 + r.int(60_000)));
  const head = `${method} ${target} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`;
  const payload = te && r.next() < 0.5 ? Buffer.concat([Buffer.from(`${r.pick(['5', 'zz', 'ffffffffff', '-1'])}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

async function healthy(port: number): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`);
  return r.status === 200;
}

describe('HTTP fuzz', () => {
  it('1,200 malformed requests: every one answered or closed, the server up after each batch, the heap flat', async () => {
    const port = app.httpPort;
    const r = rng(20261202);
    const statuses = new Map<string, number>();
    const batch = async (n: number) => {
      for (let i = 0; i < n; i += 8) {
        const answers = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => rawRequest(port, request(r), 2000)));
        for (const a of answers) {
          const code = /^HTTP\/1\.[01] (\d{3})/.exec(a)?.[1] ?? 'closed';
          statuses.set(code, (statuses.get(code) ?? 0) + 1);
          expect(code).not.toBe('500');
        }
      }
      expect(await healthy(port)).toBe(true);
    };
    await batch(200); // warm-up: lazy paths, caches, the JIT
    gc(); gc();
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < 5; k++) await batch(200);
    gc(); gc();
    const after = process.memoryUsage().heapUsed;
    const summary = { requests: 1200, statuses: Object.fromEntries([...statuses].sort()), heapBeforeMB: +(before / 2 ** 20).toFixed(1), heapAfterMB: +(after / 2 ** 20).toFixed(1) };
    console.log(`fuzz: ${JSON.stringify(summary)}`);
    expect(after - before).toBeLessThan(4 * 2 ** 20);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // nothing the fuzz sent named a local file or a foreign scheme
    for (const s of app.pulled.values()) expect(s.uri).toBe('rtsp://127.0.0.1:9/x');
    expect(app.pulled.size).toBeLessThanOrEqual(8);
  });
});
