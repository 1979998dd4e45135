/**
 * The viewer in real Chromium with hls.js against the in-process stack with the packager's /live
 * plugin: ffmpeg publishes over SRT, the player reaches playing, currentTime advances for 10 s with no
 * fatal hls.js error, the latency readout (PROGRAM-DATE-TIME) is present, the quality menu lists the
 * levels (and switches without a stall when there are two), start-over plays from the channel's
 * start, go-live returns, a catch-up range plays and ends; offline and not-found messages.
 * Screenshots in test-artifacts/.
 */

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { startStack, waitFor, type Stack } from './stack';

let stack: Stack;
let browser: TestBrowser;
const publishers: Publisher[] = [];

interface PlayerState {
  phase: string;
  time: number;
  paused: boolean;
  fatal: { details: string }[];
  stalls: number;
  switches: { level: number; at: number }[];
  levels: number;
  playingDateMs: number | null;
  message: string | null;
  messageKind: string | null;
  start: string | null;
  end: string | null;
}

/** A snapshot of window.beamPlayer and the video element, read in the page. */
async function playerState(page: Page): Promise<PlayerState> {
  return page.evaluate<PlayerState>(`(() => {
    const s = window.beamPlayer, v = document.getElementById('video'), m = document.getElementById('message');
    return {
      phase: s.phase, time: v.currentTime, paused: v.paused,
      fatal: s.fatalErrors, stalls: s.stalls, switches: s.levelSwitches,
      levels: s.hls ? s.hls.levels.length : 0,
      playingDateMs: s.hls && s.hls.playingDate ? s.hls.playingDate.getTime() : null,
      message: m.hidden ? null : document.getElementById('message-text').textContent,
      messageKind: m.hidden ? null : (m.dataset.kind || null),
      start: s.start, end: s.end,
    };
  })()`);
}

function failWith(msg: string): string {
  return `${msg}\nbrowser log:\n${browser.logs().join('\n')}\npublisher: ${publishers.map((p) => p.stderr()).join('\n')}`;
}

async function waitPlaying(page: Page, ms = 20000): Promise<PlayerState> {
  try {
    return await waitFor('the player to play', async () => {
      const s = await playerState(page);
      return s.phase === 'playing' && s.time > 0 ? s : null;
    }, ms);
  } catch (e) {
    await browser.screenshot(page, 'player-failed').catch(() => undefined);
    throw new Error(failWith(`${(e as Error).message}; state: ${JSON.stringify(await playerState(page))}`));
  }
}

async function createChannel(name: string): Promise<{ ingest: { srt: string }; createdAt: string }> {
  const res = await fetch(`${stack.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  const body = await res.text();
  assert.equal(res.status, 201, body);
  await new Promise((r) => setTimeout(r, 100)); // the ingest registry hears about it over pub/sub
  return JSON.parse(body) as { ingest: { srt: string }; createdAt: string };
}

before(async () => {
  stack = await startStack({ live: true });
  browser = await launchBrowser();
});

after(async () => {
  for (const p of publishers) p.stop();
  await browser?.close();
  await stack?.close();
});

describe('player messages', () => {
  it('says a missing channel was not found', { timeout: 20000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/player/?channel=no-such-channel`);
    await page.locator('#message[data-kind="notfound"]').waitFor();
    assert.match(await page.locator('#message-text').textContent() ?? '', /“no-such-channel” was not found/);
    await browser.screenshot(page, 'player-notfound');
    await page.goto(`${stack.baseUrl}/player/`);
    await page.locator('#message[data-kind="nochannel"]').waitFor();
    await page.close();
  });

  it('says an idle channel is offline', { timeout: 20000 }, async () => {
    await createChannel('player-idle');
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/player/?channel=player-idle`);
    await page.locator('#message[data-kind="offline"]').waitFor();
    assert.match(await page.locator('#message-text').textContent() ?? '', /offline/);
    await browser.screenshot(page, 'player-offline');
    await page.close();
  });
});

describe('player on a live channel', () => {
  const name = 'player-live';
  let page: Page;
  let firstSegmentMs = 0;

  it('plays: currentTime advances for 10 s, no fatal error, latency readout present', { timeout: 60000 }, async () => {
    const ch = await createChannel(name);
    publishers.push(publishSrt(ch.ingest.srt, { seconds: 90, size: '640x360', fps: 25, gopFrames: 25 }));
    await waitFor('two closed segments', async () => (await stack.live.lastSegments(name, 10)).filter((s) => s.durationPts !== null).length >= 2, 20000)
      .catch((e: Error) => { throw new Error(failWith(e.message)); });
    firstSegmentMs = (await stack.live.segments(name, 1, 1))[0]?.wallClockMs ?? 0;
    assert.ok(firstSegmentMs > 0, 'segment 1 has a wall clock');
    page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/player/?channel=${name}`);
    const first = await waitPlaying(page);
    await new Promise((r) => setTimeout(r, 10000));
    const later = await playerState(page);
    assert.deepEqual(later.fatal, [], failWith('no fatal hls.js error'));
    assert.equal(later.phase, 'playing');
    assert.ok(later.time - first.time >= 8, failWith(`currentTime advanced ${later.time - first.time} s in 10 s`));
    const latency = (await page.locator('#latency').textContent()) ?? '';
    assert.match(latency, /^\d+\.\d s$/, 'latency readout from PROGRAM-DATE-TIME');
    assert.ok(Number.parseFloat(latency) < 15, `latency ${latency} is a plausible live latency`);
    assert.equal(await page.locator('#mode').textContent(), 'live · LL-HLS');
    await browser.screenshot(page, 'player-live');
  });

  it('lists Auto and every level in the quality menu; switches without a stall when there are two', { timeout: 30000 }, async () => {
    const options = await page.locator('#quality option').allTextContents();
    const st = await playerState(page);
    assert.equal(options[0], 'Auto');
    assert.equal(options.length, st.levels + 1, 'one entry per level besides Auto');
    assert.match(options[1] ?? '', /^360p 640×360/, 'the source level with its resolution');
    if (st.levels < 2) return; // no transcoder in this stack: the master has the source level only
    const before = await playerState(page);
    const target = (await page.locator('#quality option').nth(2).getAttribute('value')) as string;
    await page.selectOption('#quality', target);
    await waitFor('the level switch', async () => (await playerState(page)).switches.some((s) => s.level === Number(target)), 15000);
    const afterSwitch = await playerState(page);
    assert.equal(afterSwitch.stalls, before.stalls, 'no stall during the switch');
    assert.deepEqual(afterSwitch.fatal, []);
  });

  it('works on a phone-sized screen', { timeout: 30000 }, async () => {
    const phone = await browser.newPage({ width: 390, height: 844 });
    await phone.goto(`${stack.baseUrl}/player/?channel=${name}`);
    await waitPlaying(phone);
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
    await browser.screenshot(phone, 'player-phone');
    await phone.close();
  });

  it("start-over plays from the channel's start, go-live returns to the edge", { timeout: 40000 }, async () => {
    await page.click('#startover');
    await waitFor('start-over mode', async () => (await playerState(page)).start !== null, 5000);
    assert.match(page.url(), /[?&]start=\d+/);
    const s = await waitPlaying(page);
    assert.equal(await page.locator('#mode').textContent(), 'start-over');
    const date = await waitFor('a playing date', async () => (await playerState(page)).playingDateMs, 5000);
    assert.ok(Math.abs(date - firstSegmentMs) < 4000, `playback starts near the channel's first segment (${date - firstSegmentMs} ms after)`);
    await new Promise((r) => setTimeout(r, 3000));
    const later = await playerState(page);
    assert.ok(later.time > s.time, 'start-over keeps playing');
    assert.deepEqual(later.fatal, []);
    await browser.screenshot(page, 'player-startover');
    await page.click('#golive');
    await waitFor('live mode', async () => (await playerState(page)).start === null, 5000);
    await waitPlaying(page);
    const liveDate = await waitFor('a playing date', async () => (await playerState(page)).playingDateMs, 5000);
    assert.ok(Date.now() - liveDate < 10000, `go-live plays near now (${Date.now() - liveDate} ms behind)`);
  });

  it('a catch-up range (start & end passed to the manifest) plays and then says it ended', { timeout: 40000 }, async () => {
    const start = Math.ceil(firstSegmentMs / 1000) + 1;
    const catchup = await browser.newPage();
    const manifests: string[] = [];
    catchup.on('request', (r) => {
      if (r.url().includes('master.m3u8')) manifests.push(r.url());
    });
    await catchup.goto(`${stack.baseUrl}/player/?channel=${name}&start=${start}&end=${start + 4}`);
    await waitPlaying(catchup);
    assert.ok(manifests.some((u) => u.endsWith(`master.m3u8?start=${start}&end=${start + 4}`)), `manifest URLs: ${manifests.join(', ')}`);
    await catchup.locator('#message[data-kind="ended"]').waitFor({ timeout: 20000 });
    assert.deepEqual((await playerState(catchup)).fatal, []);
    await browser.screenshot(catchup, 'player-catchup-ended');
    await catchup.close();
  });
});
