/**
 * A real headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with a fresh
 * user-data-dir per launch, no network beyond what the page asks for, and autoplay allowed.
 * Screenshots go to test-artifacts/ at the project root (gitignored). Console errors and page errors
 * are collected so a test can print them when it fails.
 */

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoPath } from './paths';

export const CHROMIUM_PATH = process.env.BEAM_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
  '--disable-sync', '--disable-quic', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
];

export const ARTIFACTS_DIR = repoPath('test-artifacts');

export interface TestBrowser {
  context: BrowserContext;
  newPage(opts?: { width?: number; height?: number; mobile?: boolean }): Promise<Page>;
  /** Lines of console errors and page errors seen on any page, for failure messages. */
  logs(): string[];
  /** Save a full-page screenshot as test-artifacts/<name>.png; returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(opts: { timeoutMs?: number } = {}): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'beamline-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: opts.timeoutMs ?? 30000,
    viewport: { width: 1280, height: 900 },
  });
  const lines: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') lines.push(`[${m.type()}] ${m.text()}`.slice(0, 500));
    });
    page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`.slice(0, 500)));
    // Which resource failed (the console says only "Failed to load resource: 404").
    page.on('response', (r) => {
      if (r.status() >= 400) lines.push(`[http ${r.status()}] ${r.request().method()} ${r.url()}`.slice(0, 500));
    });
  };
  context.on('page', watch);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  let closed = false;
  return {
    context,
    async newPage(o = {}) {
      const page = await context.newPage();
      if (o.width || o.height) await page.setViewportSize({ width: o.width ?? 1280, height: o.height ?? 900 });
      page.setDefaultTimeout(15000);
      return page;
    },
    logs: () => lines.slice(-60),
    async screenshot(page, name) {
      const file = join(ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true, timeout: 10000 });
      return file;
    },
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
