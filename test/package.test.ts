/**
 * The package as an integrator installs it (#27): `npm pack` (which builds dist/ on
 * prepare), the tarball installed into a fresh project outside the repository, then that
 * project imports `facestream`, `facestream/client`, `facestream/events` and
 * `facestream/plugin` from ESM, type-checks a TypeScript consumer against the shipped
 * declarations, starts the server from the package, adds a camera, and follows its events
 * with the client through a dropped connection.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/data.ts';
import { video } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-package-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CONSUMER_TS = `
import { startApp, parseAppConfig, type App } from 'facestream';
import { connect, type FacestreamEvent, type TrackEnded } from 'facestream/client';
import { EVENT_TYPES, compareEventIds, type EventOf } from 'facestream/events';
import { register } from 'facestream/plugin';

const app: Promise<App> = startApp(parseAppConfig({ http: { port: 0 } }, 'code'));
const client = connect('http://127.0.0.1:8080', { streams: ['*'] });
client.on('track.ended', (e: TrackEnded) => { const g: string | undefined = e.attributes?.gender?.value; void g; });
// @ts-expect-error a track.ended has no such field: the types are real, not any
client.on('track.ended', (e) => e.notAField.length);
client.on('stats', (e: EventOf<'stats'>) => e.people + e.inView);
const all: FacestreamEvent[] = [];
client.on('event', (e) => { all.push(e); });
const n: number = compareEventIds('1-0', '2-0') + EVENT_TYPES.length;
void [app, n, register];
`;

const CONSUMER_MJS = `
import { startApp, parseAppConfig } from 'facestream';
import { connect } from 'facestream/client';
import { EVENT_SCHEMA_FILE, EVENT_TYPES } from 'facestream/events';
import * as plugin from 'facestream/plugin';
import fs from 'node:fs';

const [clip, db] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(EVENT_SCHEMA_FILE, 'utf8'));
const app = await startApp(parseAppConfig({
  rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1', fileSources: true },
  storage: { file: db, statsIntervalMs: 1000 },
}, 'consumer'));
const base = 'http://127.0.0.1:' + app.httpPort;
const client = connect(base, { streams: ['*'], socket: { transports: ['websocket'], reconnectionDelay: 1000, reconnectionDelayMax: 1000 } });
const got = [];
const acks = [];
client.on('event', (e) => got.push(e));
client.on('subscribed', (a) => acks.push(a));
await client.ready;
const res = await fetch(base + '/api/sources', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'clip', url: clip, realtime: true }) });
const waitFor = async (f, ms) => { const until = Date.now() + ms; while (!f()) { if (Date.now() > until) throw new Error('timed out: ' + f); await new Promise((r) => setTimeout(r, 50)); } };
await waitFor(() => got.some((e) => e.type === 'stream.format'), 60000);
client.socket.io.engine.close();
await waitFor(() => acks.length >= 2, 20000);
await waitFor(() => got.some((e) => e.type === 'stream.ended'), 90000);
const server = [...app.buffer.values()].filter((e) => e.stream === 'clip').map((e) => e.id);
const mine = got.filter((e) => e.stream === 'clip').map((e) => e.id);
console.log(JSON.stringify({
  status: res.status, server, mine, reconnects: client.counts.reconnects, duplicates: client.counts.duplicates, replayed: acks[1]?.replayed,
  types: [...new Set(got.map((e) => e.type))], schemaTitle: schema.title, eventTypes: EVENT_TYPES.length, plugin: typeof plugin.register,
}));
client.close();
await app.stop();
process.exit(0);
`;

describe('the installable package', () => {
  it('packs, installs into a fresh project, imports from ESM and TypeScript, and runs', () => {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 })) as Array<{ filename: string; files: Array<{ path: string }>; size: number }>;
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/client/index.d.ts');
    expect(files).toContain('schema/events.schema.json');
    expect(files).toContain('models/attributes/weights.bin');
    expect(files.filter((f) => /(^|\/)(test|lab)\/|\.test\.|^src\//.test(f))).toEqual([]); // no tests, no lab, no sources twice

    const project = path.join(tmp, 'consumer');
    fs.mkdirSync(project);
    // npm 11 runs only the install scripts a project allows: better-sqlite3 builds its addon
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } }));
    execFileSync('npm', ['install', path.join(tmp, packed[0]!.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: project, stdio: 'pipe', timeout: 900_000 });

    // TypeScript against the shipped declarations
    fs.writeFileSync(path.join(project, 'consumer.ts'), CONSUMER_TS);
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(PROJECT_ROOT, 'node_modules', '@types')] }, files: ['consumer.ts'] }));
    const tsc = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, 'tsc on the consumer').toBe('');
    expect(tsc.status).toBe(0);

    // ESM: the server from the package, the client through a dropped connection
    fs.writeFileSync(path.join(project, 'consumer.mjs'), CONSUMER_MJS);
    const run = spawnSync(process.execPath, ['consumer.mjs', video('talking-d3.mp4'), path.join(tmp, 'agg.db')], { cwd: project, encoding: 'utf8', timeout: 240_000, env: { ...process.env, FACESTREAM_LOG_LEVEL: 'warn' } });
    const last = run.stdout.trim().split('\n').at(-1) ?? '';
    expect(run.status, run.stderr.slice(-2000) + run.stdout.slice(-1000)).toBe(0);
    const r = JSON.parse(last) as { status: number; server: string[]; mine: string[]; reconnects: number; duplicates: number; replayed: number; types: string[]; schemaTitle: string; eventTypes: number; plugin: string };
    expect(r.status).toBe(201);
    expect(r.reconnects).toBe(1);
    expect(r.mine).toEqual(r.server.slice(r.server.indexOf(r.mine[0]!)));
    expect(r.server.indexOf(r.mine[0]!)).toBeGreaterThanOrEqual(0);
    expect(r.types).toEqual(expect.arrayContaining(['stream.started', 'stream.format', 'track.started', 'track.ended', 'stream.ended']));
    expect(r.schemaTitle).toMatch(/facestream event/);
    expect(r.plugin).toBe('function');
  }, 1_200_000);
});
