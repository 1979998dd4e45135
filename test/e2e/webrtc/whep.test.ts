/**
 * WHEP playback end to end: ffmpeg publishes over SRT, Chromium's RTCPeerConnection POSTs an offer to
 * /live/<channel>/whep and plays the answer's H.264 + Opus over ICE on loopback (frames decoded at the
 * source's size, audio packets arriving); DELETE ends the session and a new viewer plays again (reconnect);
 * malformed offers are 400 JSON, an unknown channel 404, an offline channel 409, a wrong content type 415.
 * The bundled player's real-time mode (`&rt=1`) plays over WebRTC, and falls back to LL-HLS on a channel whose
 * source has B-frames (no rung: the WHEP answer is 409 and says why).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createChannel as newChannel } from '../../../core/model/channel';
import { signPlaybackToken } from '../../../core/model/playback-token';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { publishSrt, wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { startRig, WHEP_VIEWER_JS, type Rig } from './rig';
import { AUTH } from '../../helpers/app';

let rig: Rig;
let browser: TestBrowser;
let publisher: Publisher | undefined;
let streamKey = '';

interface Stats { state: string; framesDecoded: number; audioPackets: number; width: number; height: number }

async function createChannel(name: string): Promise<{ streamKey: string }> {
  const res = await fetch(`${rig.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name }) });
  assert.equal(res.status, 201);
  return (await res.json()) as { streamKey: string };
}

async function viewer(channel: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${rig.baseUrl}/live/time`);
  await page.addScriptTag({ content: WHEP_VIEWER_JS });
  await page.evaluate(`window.startWhep(${JSON.stringify(`${rig.baseUrl}/live/${channel}/whep`)})`);
  return page;
}

async function stats(page: Page): Promise<Stats | null> {
  return page.evaluate<Stats | null>('window.whepStats()');
}

function failWith(msg: string): string {
  return `${msg}\nbrowser log:\n${browser.logs().join('\n')}\npublisher: ${publisher?.stderr() ?? ''}`;
}

describe('WHEP playback (Chromium, SRT publisher)', { timeout: 120000 }, () => {
  beforeAll(async () => {
    rig = await startRig();
    browser = await launchBrowser();
    streamKey = (await createChannel('rt')).streamKey;
    await createChannel('quiet');
    publisher = publishSrt(`srt://127.0.0.1:${rig.srtPort}?streamid=${streamKey}`, { seconds: 90, fps: 25, gopFrames: 25 });
    await waitFor('the channel to be live', async () => {
      const ch = (await (await fetch(`${rig.baseUrl}/api/channels/rt`, { headers: AUTH })).json()) as { status: { state: string } };
      return ch.status.state === 'live';
    }, 20000);
  });
  afterAll(async () => {
    publisher?.stop();
    await browser?.close();
    await rig?.close();
  });

  it('plays H.264 and Opus from the SRT source, then ends with DELETE, and a new viewer plays again', async () => {
    const page = await viewer('rt');
    const first = await page.evaluate<{ status: number; location: string | null; rendition: string | null; error: string | null }>('({ status: window.whep.status, location: window.whep.location, rendition: window.whep.rendition, error: window.whep.error })');
    assert.equal(first.status, 201, failWith(`POST answered ${first.status}: ${first.error}`));
    assert.match(first.location ?? '', /^\/live\/rt\/whep\/[\w-]+$/);
    assert.equal(first.rendition, 'source');
    const s = await waitFor('30 decoded frames', async () => {
      const st = await stats(page);
      return st && st.framesDecoded >= 30 ? st : null;
    }, 20000).catch((e: Error) => assert.fail(failWith(e.message)));
    assert.equal(s.state, 'connected');
    assert.equal(s.width, 320);
    assert.equal(s.height, 240);
    await waitFor('Opus packets', async () => ((await stats(page))?.audioPackets ?? 0) > 20, 10000);
    const played = await page.evaluate<number>(`document.getElementById('v').currentTime`);
    assert.ok(played > 0, 'the <video> element advances');

    const del = await fetch(`${rig.baseUrl}${first.location}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    await waitFor('the session to end', async () => rig.webrtc.sessions() === 0, 5000);
    assert.equal((await fetch(`${rig.baseUrl}${first.location}`, { method: 'DELETE' })).status, 404);
    await page.close();

    const again = await viewer('rt');
    await waitFor('the reconnected viewer to decode frames', async () => ((await stats(again))?.framesDecoded ?? 0) >= 10, 20000)
      .catch((e: Error) => assert.fail(failWith(e.message)));
    await again.close();
  });

  it('answers bad offers 400, unknown channels 404, offline channels 409 and other types 415, all JSON', async () => {
    const post = (channel: string, body: string, type = 'application/sdp') => fetch(`${rig.baseUrl}/live/${channel}/whep`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const body of ['hello', 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=recvonly\r\n', 'x'.repeat(40000)]) {
      const res = await post('rt', body);
      assert.equal(res.status, res.status === 413 ? 413 : 400, `body ${JSON.stringify(body.slice(0, 30))}`);
      const json = (await res.json()) as { statusCode: number; error: string; message: string };
      assert.equal(json.statusCode, res.status);
      assert.equal(typeof json.message, 'string');
    }
    const page = await browser.newPage();
    await page.goto(`${rig.baseUrl}/live/time`);
    const offer = await page.evaluate<string>(`(async () => { const pc = new RTCPeerConnection(); pc.addTransceiver('video', { direction: 'recvonly' }); const o = await pc.createOffer(); pc.close(); return o.sdp; })()`);
    await page.close();
    const noH264 = offer.replace(/a=rtpmap:(\d+) H264\/90000/g, 'a=rtpmap:$1 X264/90000');
    assert.equal((await post('rt', noH264)).status, 400);
    assert.equal((await post('nope', offer)).status, 404);
    assert.equal((await post('quiet', offer)).status, 409);
    assert.equal((await post('rt', offer, 'text/plain')).status, 415);
    // A private channel's offer needs its playback token (403 without; with one, the offline channel's 409).
    const hidden = newChannel({ name: 'hidden', ladder: [], private: true }, validateLadder, DEFAULT_LADDER);
    await rig.channels.create(hidden);
    const refused = await post('hidden', offer);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { message: string }).message, /private/);
    const token = signPlaybackToken(hidden.playbackSecret as string, 'hidden', Math.floor(Date.now() / 1000) + 60);
    assert.equal((await fetch(`${rig.baseUrl}/live/hidden/whep?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer })).status, 409);
    assert.equal((await fetch(`${rig.baseUrl}/live/rt/whep/unknown`, { method: 'DELETE' })).status, 404);
  });

  it('the player plays in real time over WebRTC, and falls back to LL-HLS when WebRTC is refused', async () => {
    const page = await browser.newPage();
    await page.goto(`${rig.baseUrl}/player/?channel=rt&rt=1`);
    const rt = await waitFor('the real-time player to play', async () => {
      const s = await page.evaluate<{ phase: string; transport: string | null; failed: string | null; mode: string }>(`({ phase: window.beamPlayer.phase, transport: window.beamPlayer.transport, failed: window.beamPlayer.realtimeFailed, mode: document.getElementById('mode').textContent })`);
      return s.phase === 'playing' ? s : null;
    }, 20000).catch((e: Error) => assert.fail(failWith(e.message)));
    assert.equal(rt.transport, 'webrtc', failWith(`fell back: ${rt.failed}`));
    assert.match(rt.mode, /WebRTC/);
    await page.close();

    const { streamKey: bKey } = await createChannel('bframes');
    const b = wrapFfmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p',
      '-f', 'mpegts', `srt://127.0.0.1:${rig.srtPort}?streamid=${bKey}`,
    ]);
    try {
      await waitFor('ingest to report B-frames', async () => {
        const ch = (await (await fetch(`${rig.baseUrl}/api/channels/bframes`, { headers: AUTH })).json()) as { status: { ingest: { bFrames?: boolean } | null } };
        return ch.status.ingest?.bFrames === true;
      }, 20000);
      const p2 = await browser.newPage();
      await p2.goto(`${rig.baseUrl}/player/?channel=bframes&rt=1`);
      const hls = await waitFor('the fallback to play', async () => {
        const s = await p2.evaluate<{ phase: string; transport: string | null; failed: string | null }>(`({ phase: window.beamPlayer.phase, transport: window.beamPlayer.transport, failed: window.beamPlayer.realtimeFailed })`);
        return s.phase === 'playing' ? s : null;
      }, 30000).catch((e: Error) => assert.fail(failWith(e.message)));
      assert.equal(hls.transport, 'hls');
      assert.match(hls.failed ?? '', /B-frames/);
      await p2.close();
    } finally {
      b.stop();
    }
  });
});
