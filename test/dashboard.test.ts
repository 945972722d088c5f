/**
 * End to end: facestream with a token, a shared clip published over RTMP, the dashboard in
 * headless Chromium (Debian's `chromium` driven by playwright-core). The stream appears,
 * a track tile with graded attributes appears, the charts render; after a server restart
 * the page reconnects by itself and a reload works. Screenshot: test-output/dashboard.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startApp, type App } from '../src/app.ts';
import { parseAppConfig } from '../src/config.ts';
import { publish, type Publisher } from '../src/demo/publish.ts';
import { PROJECT_ROOT } from '../src/data.ts';
import { openBrowser } from './browser.ts';
import { video } from './helpers.ts';

const TOKEN = 'dash-token-42';
const out = path.join(PROJECT_ROOT, 'test-output');
const dbFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'facestream-dash-')), 'agg.db');
const config = (httpPort = 0) => parseAppConfig({
  rtmp: { port: 0, host: '127.0.0.1' }, http: { port: httpPort, host: '127.0.0.1', token: TOKEN },
  storage: { file: dbFile, statsIntervalMs: 1000 }, pipeline: 'default',
}, 'test');

let app: App | undefined;
let browser: Browser | undefined;
let page: Page;
let pub: Publisher | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  app = await startApp(config());
  ({ browser, page, pageErrors } = await openBrowser({ width: 1280, height: 1100, token: TOKEN }));
}, 60_000);

afterAll(async () => {
  await pub?.stop();
  await browser?.close();
  await app?.stop();
});

describe('dashboard', () => {
  it('shows the stream, a graded track tile and the charts; recovers after a restart', async () => {
    const base = `http://127.0.0.1:${app!.httpPort}/`;
    await page.goto(base);
    await page.waitForSelector('#conn.on', { timeout: 20_000 });
    pub = publish(video('talking-d3.mp4'), `rtmp://127.0.0.1:${app!.rtmpPort}/live/lobby`, { loop: true, reencode: true });
    await page.waitForSelector('tr[data-stream="live/lobby"] td.live', { timeout: 30_000 });
    const tile = await page.waitForSelector('.tile .grade', { timeout: 60_000 });
    expect(await tile.textContent()).toMatch(/^[SABCD]$/);
    // charts: uPlot draws into canvases once the aggregates arrive (track.ended feeds them)
    await pub.stop();
    pub = undefined;
    await page.waitForFunction(() => Number(document.getElementById('people')?.textContent) > 0, undefined, { timeout: 60_000 });
    expect(await page.locator('#chart-people canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-smile canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#ages div').count()).toBeGreaterThan(0);
    expect(await page.locator('#events li').count()).toBeGreaterThan(0);
    fs.mkdirSync(out, { recursive: true });
    await page.screenshot({ path: path.join(out, 'dashboard.png'), fullPage: true });

    // restart on the same port: the socket reconnects by itself, a reload works
    const port = app!.httpPort;
    await app!.stop();
    app = undefined;
    await page.waitForSelector('#conn.off', { timeout: 10_000 });
    app = await startApp(config(port));
    await page.waitForSelector('#conn.on', { timeout: 30_000 });
    await page.reload();
    await page.waitForSelector('#conn.on', { timeout: 20_000 });
    expect(await page.locator('h1').textContent()).toBe('facestream');
    expect(pageErrors).toEqual([]);
  }, 240_000);
});
