/**
 * Headless Chromium for the tests that look at the console as an operator does: Debian's
 * `chromium` (or CHROMIUM_PATH) driven by playwright-core, one page that records its errors and
 * answers the console's token prompt.
 */
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface OpenBrowser {
  browser: Browser;
  page: Page;
  /** Uncaught errors of the page's scripts, in order. */
  pageErrors: string[];
}

export async function openBrowser(o: { width: number; height: number; token: string }): Promise<OpenBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: o.width, height: o.height } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // the page asks for the token once; the answer is kept in localStorage
  page.on('dialog', (d) => { void d.accept(o.token); });
  return { browser, page, pageErrors };
}
