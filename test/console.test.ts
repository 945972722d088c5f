/**
 * The operator console in headless Chromium (Debian's `chromium` driven by playwright-core),
 * each view with a real stream: a clip published over RTMP with OBS-like settings (x264
 * defaults, 10 s keyframes) to facestream with a token, the live view and thumbnails on
 * (`dashboard.video`, `storage.snapshots`), an alert rule, and 90 days of seeded tracks.
 *
 * - live view: the video plays in the page with a box over a face, drawn on the frame the
 *   face was found in (the pixel under the box's edge is the box colour), and the picture's
 *   delay behind the server's decoding is reported;
 * - alerts and system: the banner and the header's system line;
 * - review: thumbnails of the tracks that ended, filters, delete (the thumbnail is gone);
 * - the 90-day report: the dashboard over 90 days and the printable report.
 * Screenshots: test-output/console-*.png. Nothing of it is served without the token.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import { PROJECT_ROOT } from '../src/data.ts';
import { AggregateStore } from '../src/events/store.ts';
import type { FacestreamEvent, TrackEnded } from '../src/events/types.ts';
import { jpegSize } from '../src/calculators/picture.ts';
import { openBrowser } from './browser.ts';
import { video, waitForAsync } from './helpers.ts';

const TOKEN = 'console-token-42';
const STREAM = 'live/lobby';
const out = path.join(PROJECT_ROOT, 'test-output');
const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-console-')), 'agg.db');
const DAY = 86_400_000;

let app: App | undefined;
let browser: Browser | undefined;
let page: Page;
let pub: Publisher | undefined;
let pageErrors: string[] = [];
let base = '';
const auth = { authorization: `Bearer ${TOKEN}` };
const shot = (name: string) => page.screenshot({ path: path.join(out, `console-${name}.png`), fullPage: true });

/** 90 days of ended tracks on the published stream's name: ten visits a day, 09:00 to 18:00 UTC. */
function seed(): number {
  const store = new AggregateStore({ file: dbFile, retentionDays: 90 });
  const today = Math.floor(Date.now() / DAY) * DAY;
  let n = 0;
  for (let d = 89; d >= 1; d--) {
    for (let h = 9; h <= 18; h++) {
      const ts = today - d * DAY + h * 3_600_000;
      const female = (d + h) % 3 !== 0;
      const e: TrackEnded = {
        v: 1, id: `${ts}-0`, stream: STREAM, ts, type: 'track.ended', trackId: 10_000 + n, ptsMs: 0, firstSeenMs: 0, lastSeenMs: 4000,
        dwellMs: 4000 + 1000 * (h % 4), frames: 40, flags: [],
        attributes: {
          gender: { value: female ? 'female' : 'male', probability: 0.95, confidence: 0.9, grade: 'S', frames: 20 },
          ageGroup: { value: h % 2 ? 'youth' : 'middle-aged', probability: 0.8, confidence: 0.7, grade: 'A', frames: 20 },
          age: h % 2 ? 27 : 45, celeba: {},
        },
      } as TrackEnded;
      store.addTrack(e);
      n++;
    }
  }
  store.close();
  return n;
}

const seeded = seed();

beforeAll(async () => {
  app = await startApp(parseAppConfig({
    rtmp: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1', token: TOKEN },
    storage: { file: dbFile, statsIntervalMs: 1000, snapshots: true },
    dashboard: { video: true, videoFps: 5 },
    alerts: [{ name: 'someone', when: 'inView', above: 0 }],
    pipeline: 'default',
  }, 'test'));
  base = `http://127.0.0.1:${app.httpPort}/`;
  ({ browser, page, pageErrors } = await openBrowser({ width: 1280, height: 1000, token: TOKEN }));
  fs.mkdirSync(out, { recursive: true });
}, 60_000);

afterAll(async () => {
  await pub?.stop();
  await browser?.close();
  await app?.stop();
});

describe('operator console', () => {
  it('nothing of the console is served without the token', async () => {
    for (const p of ['api/tracks', 'api/tracks/1-0/snapshot.jpg?stream=live/lobby', 'api/report.html', 'api/info']) {
      expect((await fetch(base + p)).status, p).toBe(401);
    }
    expect((await fetch(base + 'api/tracks/1-0?stream=live/lobby', { method: 'DELETE' })).status).toBe(401);
    // a socket without the token cannot watch (nor connect)
    const s = io(base, { transports: ['websocket'], reconnection: false });
    const err = await new Promise<string>((resolve) => { s.on('connect_error', (e) => resolve(e.message)); s.on('connect', () => resolve('connected')); });
    s.close();
    expect(err).toMatch(/unauthorized/);
  });

  it('live view: the video plays with a box over a face, on the frame it was found in', async () => {
    await page.goto(base);
    await page.waitForSelector('#conn.on', { timeout: 20_000 });
    pub = publish(video('talking-d3.mp4'), `rtmp://127.0.0.1:${app!.rtmpPort}/${STREAM}`, { loop: true, encoder: 'obs' });
    await page.waitForSelector(`tr[data-stream="${STREAM}"] td.live`, { timeout: 30_000 });
    await page.waitForFunction(() => {
      const c = document.getElementById('video') as HTMLCanvasElement;
      return Number(c.dataset.frames) >= 10 && Number(c.dataset.faces) >= 1 && !!c.dataset.box;
    }, undefined, { timeout: 90_000 });
    // the box colour under the left edge of the face's box, and the picture's own pixels inside it
    const probe = await page.evaluate(() => {
      const c = document.getElementById('video') as HTMLCanvasElement;
      const b = JSON.parse(c.dataset.box!) as { x: number; y: number; width: number; height: number };
      const g = c.getContext('2d')!;
      const edge = g.getImageData(Math.round(b.x), Math.round(b.y + b.height / 2), 1, 1).data;
      const inside = g.getImageData(Math.round(b.x + b.width / 2), Math.round(b.y + b.height / 2), 1, 1).data;
      return { box: b, edge: [...edge], inside: [...inside], w: c.width, h: c.height, frames: Number(c.dataset.frames), lagMs: Number(c.dataset.lagMs), info: document.getElementById('video-info')!.textContent };
    });
    expect(probe.w).toBeGreaterThanOrEqual(320); // the analysed frame (ingest.maxWidth), at most dashboard.videoWidth
    expect(probe.w).toBeLessThanOrEqual(640);
    expect(probe.box.width).toBeGreaterThan(10);
    expect(probe.edge.slice(0, 3)).toEqual([0, 229, 255]);
    expect(probe.inside.slice(0, 3)).not.toEqual([0, 229, 255]);
    expect(probe.info).toMatch(/boxes drawn on the frame they were found in/);
    expect(probe.lagMs).toBeGreaterThanOrEqual(0);
    expect(probe.lagMs).toBeLessThan(5000);
    console.log(`live view: ${probe.frames} frames, face box ${JSON.stringify(probe.box)}, picture ${probe.lagMs} ms behind decoding (median)`);
    // a label with answers comes once the first update of the track is out
    await page.waitForSelector('.tile .grade', { timeout: 60_000 });
    await page.waitForTimeout(1500);
    await shot('live');
    // a gender the checks dispute: the tile says which check, beside the grade that withholds it
    app!.socket.publish({
      v: 1, id: `${Date.now()}-disputed`, stream: STREAM, ts: Date.now(), type: 'track.updated', trackId: 9_999, ptsMs: 0,
      box: { x: 0, y: 0, width: 10, height: 10 }, landmarks: [], score: 0.9, flags: [],
      attributes: { gender: { value: 'male', probability: 0.9, confidence: 0.9, grade: 'C', frames: 3, check: 'disagrees', checks: { network: 'agrees', 'face-api': 'disagrees' } }, celeba: {} },
    } as unknown as FacestreamEvent);
    await page.waitForSelector('.tile[data-track="9999"] .disputed', { timeout: 10_000 });
    expect(await page.locator('.tile[data-track="9999"] .disputed').getAttribute('title')).toBe('withheld: the network and the face-api check disagree');
    // alerts and system
    await page.waitForSelector('#alerts:not([hidden]) li', { timeout: 30_000 });
    expect(await page.locator('#alerts').textContent()).toMatch(/someone/);
    await page.waitForFunction(() => /MB/.test(document.getElementById('system')?.textContent ?? ''), undefined, { timeout: 15_000 });
    // the engine the networks run on, as /api/info says it (not tfjs' backend when onnxruntime runs them)
    const info = await (await fetch(`${base}api/info`, { headers: auth })).json() as { engine: string };
    expect(await page.locator('#system').textContent()).toContain(info.engine);
    // where a frame's time goes, per stage
    const listed = await (await fetch(base + 'api/streams', { headers: auth })).json() as { streams: Array<{ name: string; stageMs: Record<string, number> }> };
    const stageMs = listed.streams.find((x) => x.name === STREAM)!.stageMs;
    expect(Object.keys(stageMs)).toEqual(expect.arrayContaining(['wait', 'detect', 'attributes', 'report']));
    expect(stageMs.detect).toBeGreaterThan(0);
    await page.waitForSelector('tr.stages', { timeout: 10_000 });
    expect(await page.locator('tr.stages').first().textContent()).toMatch(/detect \d/);
    console.log(`stage ms: ${JSON.stringify(stageMs)}`);
    await page.locator('#overview').screenshot({ path: path.join(out, 'console-streams.png') });
    await page.locator('header').screenshot({ path: path.join(out, 'console-system.png') });
    await page.locator('#alerts').screenshot({ path: path.join(out, 'console-alerts.png') });
    const m = await (await fetch(base + 'metrics')).text();
    expect(Number(/facestream_video_frames_sent_total (\d+)/.exec(m)?.[1])).toBeGreaterThan(0);
    expect(m).toMatch(/facestream_stage_milliseconds\{stream="live\/lobby",stage="detect"\} \d/);
  }, 240_000);

  it('review: thumbnails of the tracks that ended, filters, delete', async () => {
    await pub!.stop();
    pub = undefined;
    // the stream's end ends its tracks: their rows and thumbnails are written
    const rows = await waitForAsync(async () => {
      const r = await (await fetch(base + `api/tracks?stream=${encodeURIComponent(STREAM)}&from=${Date.now() - 600_000}`, { headers: auth })).json() as { tracks: Array<{ id: string; snapshot: boolean; gender?: { value: string } }> };
      return r.tracks.some((t) => t.snapshot) ? r.tracks : undefined;
    }, 60_000, 'a track with a thumbnail');
    const withThumb = rows.find((t) => t.snapshot)!;
    const res = await fetch(base + `api/tracks/${withThumb.id}/snapshot.jpg?stream=${encodeURIComponent(STREAM)}`, { headers: auth });
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
    expect(jpegSize(new Uint8Array(await res.arrayBuffer()))).toEqual({ width: 96, height: 96 });

    await page.selectOption('#rv-range', '3600000');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#rv-list .rv img')].some((i) => i.complete && i.naturalWidth === 96), undefined, { timeout: 30_000 });
    await page.locator('#review').scrollIntoViewIfNeeded();
    await shot('review');
    // a filter: only that gender's tiles remain
    const g = withThumb.gender?.value ?? 'female';
    await page.selectOption('#rv-gender', g);
    await page.waitForFunction((gender) => {
      const tiles = [...document.querySelectorAll('#rv-list .rv')];
      return tiles.length > 0 && tiles.every((t) => t.textContent!.includes(gender));
    }, g, { timeout: 15_000 });
    // delete: the tile goes, and so do the row and the thumbnail
    const tile = page.locator(`#rv-list .rv[data-id="${withThumb.id}"]`);
    await tile.locator('button.del').click();
    await tile.waitFor({ state: 'detached', timeout: 10_000 });
    expect((await fetch(base + `api/tracks/${withThumb.id}/snapshot.jpg?stream=${encodeURIComponent(STREAM)}`, { headers: auth })).status).toBe(404);
    const after = await (await fetch(base + `api/tracks?stream=${encodeURIComponent(STREAM)}&from=${Date.now() - 600_000}`, { headers: auth })).json() as { tracks: Array<{ id: string }> };
    expect(after.tracks.map((t) => t.id)).not.toContain(withThumb.id);
    // another origin's page cannot delete through the operator's browser
    const other = rows.find((t) => t.id !== withThumb.id);
    if (other) {
      expect((await fetch(base + `api/tracks/${other.id}?stream=${encodeURIComponent(STREAM)}`, { method: 'DELETE', headers: { ...auth, origin: 'http://evil.example' } })).status).toBe(403);
    }
  }, 120_000);

  it('a 90-day report: the dashboard over 90 days and the printable page', async () => {
    await page.selectOption('#range', String(90 * DAY));
    await page.waitForFunction((n) => Number(document.getElementById('people')?.textContent) >= n, seeded, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('#heatmap i').length === 7 * 24, undefined, { timeout: 20_000 });
    await page.locator('#demographics').scrollIntoViewIfNeeded();
    await page.locator('#demographics').screenshot({ path: path.join(out, 'console-report-90d.png') });
    const report = await browser!.newPage({ viewport: { width: 1000, height: 1200 } });
    await report.goto(`${base}api/report.html?stream=${encodeURIComponent(STREAM)}&from=${Date.now() - 90 * DAY}&token=${TOKEN}`);
    const text = await report.locator('body').textContent();
    expect(text).toContain(STREAM);
    await report.screenshot({ path: path.join(out, 'console-report.png'), fullPage: true });
    await report.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
