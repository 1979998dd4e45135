/**
 * The real process (`node dist/beamline.js`), started with role tuning from BEAM_* variables:
 * - the docs page /api/docs in a real Chromium renders the API's operations from the OpenAPI document, with
 *   every request on this origin (no CDN) and no Content-Security-Policy violation; the dashboard links to it;
 * - BEAM_SEGMENT_SECONDS=1, BEAM_PART_TARGET=0.4 and BEAM_LIVE_WINDOW_SEGMENTS=3 change what a player sees: 1 s segments (target
 *   duration 1, where the default is 2), 0.4 s parts (default 0.333) and a 3-segment live window (default 6).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exitOf, freePort, waitFor, waitForOutput } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { parseM3u8 } from '../../unit/packager/parsers';
import { built } from '../../helpers/paths';

const ENTRY = built('beamline.js');

let child: ChildProcess;
let dir: string;
let base: string;
let srtPort: number;
let token: string;
let browser: TestBrowser | null = null;
let pub: Publisher | null = null;
/** The process's recent output, for failure messages. */
let output = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-apidocs-'));
  const port = await freePort();
  srtPort = await freePort();
  child = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH ?? '', BEAM_LOG_LEVEL: 'warn', BEAM_DATA_DIR: dir,
      BEAM_APP_HOST: '127.0.0.1', BEAM_APP_PORT: String(port), BEAM_SRT_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srtPort),
      BEAM_RTMP_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(await freePort()),
      // The tuning under test, and a light transcoder (the test channel has no ladder anyway).
      BEAM_SEGMENT_SECONDS: '1', BEAM_PART_TARGET: '0.4', BEAM_LIVE_WINDOW_SEGMENTS: '3', BEAM_X264_PRESET: 'ultrafast', BEAM_TRANSCODER_CONCURRENCY: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  await waitForOutput(child, /Beamline is running/, 30000);
  base = `http://127.0.0.1:${port}`;
  token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
});

afterAll(async () => {
  pub?.stop();
  await browser?.close();
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await exitOf(child, 15000);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('API docs page (real process, real Chromium)', () => {
  it('renders the operations of both APIs, offline, without CSP violations; the dashboard links to it', { timeout: 60000 }, async () => {
    browser = await launchBrowser();
    const page = await browser.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${base}/`);
    const link = page.locator('a#api-docs');
    assert.equal(await link.getAttribute('href'), '/api/docs');
    await link.click();
    await page.waitForURL(`${base}/api/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 20000 });
    const ops = await page.locator('.opblock').evaluateAll((els) =>
      els.map((e) => `${e.querySelector('.opblock-summary-method')?.textContent?.trim()} ${e.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? e.querySelector('.opblock-summary-path')?.textContent?.trim()}`),
    );
    for (const op of ['POST /api/channels', 'GET /api/channels/{name}', 'POST /api/channels/{name}/key', 'POST /beams', 'PUT /beams/{content}/{stream}/{ref}', 'GET /beams/{content}/relations']) {
      assert.ok(ops.some((o) => o.replace(/\u200b/g, '') === op), `${op} is on the page: ${ops.join(', ')}`);
    }
    assert.ok(ops.length >= 20, `${ops.length} operations`);
    // The bearer scheme is offered (the Authorize button), and writes show a lock.
    assert.equal(await page.locator('button.authorize').count() > 0, true, 'the Authorize button for the bearer token');
    await browser.screenshot(page, 'api-docs');
    const elsewhere = requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:'));
    assert.deepEqual(elsewhere, [], 'every request stays on this origin (no CDN)');
    assert.deepEqual(violations, [], browser.logs().join('\n'));
  });
});

describe('role tuning from BEAM_* variables (real process, real publisher)', () => {
  it('BEAM_SEGMENT_SECONDS=1, BEAM_PART_TARGET=0.4 and BEAM_LIVE_WINDOW_SEGMENTS=3 shape the live playlist', { timeout: 90000 }, async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // The channel the banner announces; no ladder, so the process only ingests and packages.
    const patched = await fetch(`${base}/api/channels/main`, { method: 'PATCH', headers: auth, body: JSON.stringify({ ladder: [] }) });
    assert.equal(patched.status, 200, await patched.clone().text());
    const { streamKey } = (await patched.json()) as { streamKey: string };
    // 1 s keyframe interval: the segmenter may cut every second, as configured.
    pub = publishSrt(`srt://127.0.0.1:${srtPort}?streamid=${streamKey}`, { seconds: 12, fps: 25, gopFrames: 25 });
    let last = '';
    const playlist = await waitFor('a live playlist whose window has slid', async () => {
      const r = await fetch(`${base}/live/main/v-source.m3u8`);
      const text = await r.text();
      last = `${r.status} ${text}`;
      if (r.status !== 200) return null;
      const p = parseM3u8(text);
      return (p.manifest.mediaSequence ?? 0) >= 3 ? { text, p } : null;
    }, 40000, 250).catch((e: Error) => assert.fail(`${e.message}; last answer: ${last}; publisher: ${pub?.stderr()}; beamline: ${output}`));
    assert.match(playlist.text, /#EXT-X-TARGETDURATION:1\n/, `target duration 1 s (default 2): ${playlist.text}`);
    const complete = playlist.p.manifest.segments.filter((s) => s.uri);
    assert.ok(complete.length <= 3, `at most 3 segments listed (default 6): ${playlist.text}`);
    for (const s of complete) assert.ok(s.duration <= 1.5, `segments of about 1 s: ${s.duration}`);
    assert.match(playlist.text, /#EXT-X-PART-INF:PART-TARGET=0\.40*\n/, playlist.text);
    pub.stop();
  });
});
