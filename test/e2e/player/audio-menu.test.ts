/**
 * The bundled player's audio menu in Chromium: a channel published with English and French audio tracks shows
 * both in the menu; choosing French switches hls.js's audio track and the video keeps playing.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { AUTH } from '../../helpers/app';
import { wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { startStack, waitFor, type Stack } from './stack';

let stack: Stack;
let browser: TestBrowser;
let publisher: Publisher | undefined;
const CH = 'bilingual';

beforeAll(async () => {
  stack = await startStack({ live: true });
  browser = await launchBrowser();
  const res = await fetch(`${stack.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: CH, ladder: [] }) });
  assert.equal(res.status, 201);
  const url = ((await res.json()) as { ingest: { srt: string } }).ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${stack.srtPort}`);
  publisher = wrapFfmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000',
    '-t', '60', '-map', '0:v', '-map', '1:a', '-map', '2:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-f', 'mpegts', url,
  ]);
}, 60000);

afterAll(async () => {
  publisher?.stop();
  await browser?.close();
  await stack?.close();
});

describe('player audio menu', () => {
  it('lists both languages; choosing French switches the audio track and playback goes on', { timeout: 60000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/player/?channel=${CH}`);
    await waitFor('the player to play', async () => page.evaluate<boolean>(`window.beamPlayer.phase === 'playing' && document.getElementById('video').currentTime > 0`), 30000)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${browser.logs().join('\n')}\n${publisher?.stderr() ?? ''}`);
      });
    await waitFor('the audio menu', async () => page.evaluate<boolean>(`!document.getElementById('audio-choice').hidden`), 10000);
    assert.deepEqual(await page.locator('#audio option').allTextContents(), ['English', 'French']);
    await page.selectOption('#audio', '1');
    await waitFor('hls.js on the French track', async () => page.evaluate<boolean>(`window.beamPlayer.hls.audioTrack === 1 && window.beamPlayer.hls.audioTracks[1].lang === 'fr'`), 10000);
    const t0 = await page.evaluate<number>(`document.getElementById('video').currentTime`);
    await waitFor('playback after the switch', async () => (await page.evaluate<number>(`document.getElementById('video').currentTime`)) > t0 + 2, 15000);
    assert.deepEqual(await page.evaluate<unknown[]>(`window.beamPlayer.fatalErrors`), []);
  });
});
