/**
 * Signed playback of a private channel, end to end: a channel made private through the API, ffmpeg publishing
 * over SRT into the in-process stack, a playback token minted by the API (and one minted as a customer's backend
 * would, from the documented format and the channel's secret), and Chromium playing it with a stock hls.js
 * (`new Hls()`, the token only in the master URL: the playlists carry it on) and with the bundled player
 * (`/player/?channel=…&token=…`). Without a token the master is 403 and hls.js fails fatally; an expired token,
 * another channel's token and another viewer address's token are 403 too, on playlists, segments and images.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { AUTH } from '../../helpers/app';
import { wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { startStack, waitFor, type Stack } from '../player/stack';
import { findPagesDirs } from '../../../engine/api/pages';
import { signPlaybackToken } from '../../../core/model/playback-token';

const CH = 'vip';
const OTHER = 'vip-two';

let stack: Stack;
let browser: TestBrowser;
let publisher: Publisher | undefined;

/** A stock hls.js page: the master URL comes from the page's own query (?src=). */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><script src="/__stock/hls.min.js"></script></head>
<body><video id="v" muted autoplay playsinline></video><script>
const v = document.getElementById('v');
const s = window.__stock = { fatal: [], playingAt: null };
const hls = new Hls();
hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) s.fatal.push(d.details + (d.response ? ' ' + d.response.code : '')); });
v.addEventListener('playing', () => { if (s.playingAt === null) s.playingAt = Date.now(); });
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(v);
v.play().catch(() => undefined);
</script></body></html>`;

interface StockState { fatal: string[]; playingAt: number | null; currentTime: number }
const stateOf = (page: Page) => page.evaluate<StockState>('({ ...window.__stock, currentTime: document.getElementById("v").currentTime })');

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...AUTH }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** GET without the API token: status and body. */
async function get(path: string): Promise<{ status: number; text: string; type: string | null; cacheControl: string | null }> {
  const res = await fetch(`${stack.baseUrl}${path}`);
  return { status: res.status, text: Buffer.from(await res.arrayBuffer()).toString('latin1'), type: res.headers.get('content-type'), cacheControl: res.headers.get('cache-control') };
}

function assert403(r: { status: number; text: string; cacheControl: string | null }, reason: RegExp, what: string): void {
  assert.equal(r.status, 403, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  const body = JSON.parse(r.text) as { statusCode: number; error: string; message: string };
  assert.equal(body.statusCode, 403);
  assert.equal(body.error, 'Forbidden');
  assert.equal(r.cacheControl, 'no-store', 'a refusal is not cached');
  assert.match(body.message, reason, what);
}

beforeAll(async () => {
  browser = await launchBrowser();
  stack = await startStack({ live: true });
}, 60000);

afterAll(async () => {
  publisher?.stop();
  await browser?.close();
  await stack?.close();
});

describe('a private channel plays only with a playback token', () => {
  it('hls.js plays with a token, fails without; expired, foreign and wrong-address tokens are 403', { timeout: 120000 }, async () => {
    const created = await api('POST', '/api/channels', { name: CH, ladder: [], private: true });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.private, true);
    const secret = created.json.playbackSecret as string;
    assert.ok(typeof secret === 'string' && secret.length >= 43, 'the token holder sees the playback secret');
    const other = await api('POST', '/api/channels', { name: OTHER, ladder: [] });
    assert.equal(other.json.private, false);
    assert.equal((await api('POST', `/api/channels/${OTHER}/playback-tokens`, {})).status, 409, 'a public channel needs no token');
    assert.equal((await api('PATCH', `/api/channels/${OTHER}`, { private: true })).json.private, true);

    // The public view says the channel is private, and leaks neither the secret nor a working URL.
    const pub = await get(`/api/channels/${CH}`);
    const view = JSON.parse(pub.text) as Record<string, unknown> & { playback: { hls: string } };
    assert.equal(view.private, true);
    assert.ok(!('playbackSecret' in view) && !('streamKey' in view) && !pub.text.includes(secret), pub.text);
    assert.doesNotMatch(view.playback.hls, /token=/);

    await new Promise((r) => setTimeout(r, 150)); // the ingest registry hears of the channel over pub/sub
    publisher = wrapFfmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p', '-b:v', '800k',
      '-c:a', 'aac', '-b:a', '64k', '-pes_payload_size', '0', '-f', 'mpegts', (created.json.ingest as { srt: string }).srt,
    ]);
    const pub2 = publisher;

    const minted = await api('POST', `/api/channels/${CH}/playback-tokens`, { expiresIn: 600 });
    assert.equal(minted.status, 201, JSON.stringify(minted.json));
    const token = minted.json.token as string;
    assert.match(token, /^\d+\.\.[A-Za-z0-9_-]{43}$/);
    assert.ok(Math.abs(Date.parse(minted.json.expiresAt as string) - (Date.now() + 600000)) < 5000, String(minted.json.expiresAt));
    assert.equal(minted.json.hls, `${stack.baseUrl}/live/${CH}/master.m3u8?token=${encodeURIComponent(token)}`);
    for (const bad of [{ expiresIn: 5 }, { expiresIn: 'soon' }, { ip: 'localhost' }, { colour: 'red' }]) {
      assert.equal((await api('POST', `/api/channels/${CH}/playback-tokens`, bad)).status, 400, JSON.stringify(bad));
    }

    const q = `?token=${encodeURIComponent(token)}`;
    await waitFor('the private channel to play', async () => (await get(`/live/${CH}/v-source.m3u8${q}`)).status === 200, 20000)
      .catch((e: Error) => { throw new Error(`${e.message}; publisher: ${pub2.stderr()}`); });

    // The token is carried on: every URI of the multivariant and media playlists, and the MPD's templates.
    const master = await get(`/live/${CH}/master.m3u8${q}`);
    assert.equal(master.status, 200);
    const uris = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#')).concat([...text.matchAll(/URI="([^"]*)"/g)].map((m) => m[1] as string));
    assert.ok(uris(master.text).length >= 1 && uris(master.text).every((u) => u.endsWith(`token=${token}`)), master.text);
    // The separate form too: the video variant and the audio group's URI.
    const separate = await get(`/live/${CH}/master.m3u8${q}&audio=separate`);
    assert.ok(uris(separate.text).length >= 2 && uris(separate.text).every((u) => u.endsWith(`token=${token}`)), separate.text);
    assert.equal((await get(`/live/${CH}/av-source.m3u8${q}`)).status, 200);
    assert.equal((await get(`/live/${CH}/av-source.m3u8`)).status, 403);
    const media = await get(`/live/${CH}/v-source.m3u8${q}`);
    const mediaUris = uris(media.text);
    assert.ok(mediaUris.length >= 3 && mediaUris.every((u) => u.endsWith(`token=${token}`)), media.text);
    const blocking = await get(`/live/${CH}/v-source.m3u8?_HLS_msn=1&token=${encodeURIComponent(token)}`);
    assert.equal(blocking.status, 200, 'blocking reload parameters beside the token');
    const mpd = await get(`/live/${CH}/manifest.mpd${q}`);
    assert.equal(mpd.status, 200, mpd.text.slice(0, 200));
    assert.match(mpd.text, new RegExp(`media="[^"]*\\?token=${token.replace(/\./g, '\\.')}"`));
    const segment = mediaUris.find((u) => /^v-source-\d+\.m4s\?/.test(u)) as string;
    assert.ok(segment, media.text);
    const seg = await get(`/live/${CH}/${segment}`);
    assert.equal(seg.status, 200);
    assert.equal(seg.type, 'video/mp4');
    const segPath = `/live/${CH}/${segment.split('?')[0] as string}`;

    // Without a token, with a wrong one: 403 on the master, playlists, segments, init, the MPD, TS, images.
    assert403(await get(`/live/${CH}/master.m3u8`), /private/, 'master without a token');
    for (const p of [`/live/${CH}/v-source.m3u8`, segPath, `/live/${CH}/v-source-init.mp4`, `/live/${CH}/manifest.mpd`, `/live/${CH}/master.m3u8?format=ts`, `/beams/${CH}`, `/beams/${CH}/video/latest.jpg`]) {
      assert403(await get(p), /private/, `${p} without a token`);
    }
    const expired = signPlaybackToken(secret, CH, Math.floor(Date.now() / 1000) - 10);
    assert403(await get(`/live/${CH}/master.m3u8?token=${expired}`), /expired/, 'an expired token');
    const foreign = (await api('POST', `/api/channels/${OTHER}/playback-tokens`, {})).json.token as string;
    assert403(await get(`${segPath}?token=${foreign}`), /not valid/, "another channel's token on a segment");
    const elsewhere = (await api('POST', `/api/channels/${CH}/playback-tokens`, { ip: '203.0.113.9' })).json.token as string;
    assert403(await get(`/live/${CH}/master.m3u8?token=${elsewhere}`), /another viewer/, "another address's token");
    assert403(await get(`/live/${CH}/master.m3u8?token=${token.slice(0, -2)}xy`), /not valid/, 'a tampered token');
    // A token a customer's backend mints from the documented format, for this viewer's address, opens it.
    const own = signPlaybackToken(secret, CH, Math.floor(Date.now() / 1000) + 60, '127.0.0.1');
    assert.equal((await get(`/live/${CH}/master.m3u8?token=${own}`)).status, 200, 'a self-minted token');
    assert.equal((await get(`/beams/${CH}?token=${encodeURIComponent(token)}`)).status, 200, 'the format with a token');
    const jpg = await get(`/beams/${CH}/video/latest.jpg?token=${encodeURIComponent(token)}`);
    assert.equal(jpg.status, 200, jpg.text.slice(0, 200));
    assert.equal(jpg.type, 'image/jpeg');
    assert.equal((await fetch(`${stack.baseUrl}/beams/${CH}`, { headers: AUTH })).status, 200, 'the API token opens everything');

    // Chromium: a stock hls.js plays with the token, and fails fatally without it.
    const hlsJs = readFileSync(join(findPagesDirs(__dirname).hlsJsDir, 'hls.min.js'));
    const open = async (src: string) => {
      const page = await browser.newPage({ width: 640, height: 400 });
      await page.route((u) => u.pathname.startsWith('/__stock/'), (route) => route.request().url().includes('/hls.min.js')
        ? route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs })
        : route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
      await page.goto(`${stack.baseUrl}/__stock/page.html?src=${encodeURIComponent(src)}`);
      return page;
    };
    const denied = await open(`/live/${CH}/master.m3u8`);
    const withToken = await open(`/live/${CH}/master.m3u8${q}`);
    const fail = async (page: Page, msg: string) => {
      await browser.screenshot(page, 'private-channel-failed').catch(() => undefined);
      return new Error(`${msg}\nstate: ${JSON.stringify(await stateOf(page).catch(() => null))}\nbrowser log:\n${browser.logs().join('\n')}\npublisher: ${pub2.stderr()}`);
    };
    const playing = await waitFor('hls.js with the token to play', async () => {
      const s = await stateOf(withToken);
      if (s.fatal.length) throw await fail(withToken, `hls.js fatal errors: ${s.fatal.join(', ')}`);
      return s.playingAt !== null && s.currentTime > 0 ? s : null;
    }, 30000).catch(async (e: Error) => { throw await fail(withToken, e.message); });
    await new Promise((r) => setTimeout(r, 4000));
    const later = await stateOf(withToken);
    assert.deepEqual(later.fatal, []);
    assert.ok(later.currentTime > playing.currentTime + 2, `playback advances: ${playing.currentTime} → ${later.currentTime}`);
    const refused = await waitFor('hls.js without a token to fail', async () => {
      const s = await stateOf(denied);
      return s.fatal.length ? s : null;
    }, 30000).catch(async (e: Error) => { throw await fail(denied, e.message); });
    assert.match(refused.fatal.join(','), /manifestLoadError 403/);
    assert.equal(refused.playingAt, null);
    await denied.close();
    await withToken.close();

    // The bundled player passes ?token= from its address to hls.js.
    const player = await browser.newPage({ width: 800, height: 500 });
    await player.goto(`${stack.baseUrl}/player/?channel=${CH}&token=${encodeURIComponent(token)}`);
    await waitFor('the bundled player to play', async () => {
      const p = await player.evaluate<{ phase: string; t: number }>('({ phase: window.beamPlayer.phase, t: document.getElementById("video").currentTime })');
      return p.phase === 'playing' && p.t > 1 ? p : null;
    }, 30000).catch(async (e: Error) => { throw await fail(player, e.message); });
    await player.close();
    // Without one it says why, and stops (a refusal is not retried).
    const bare = await browser.newPage({ width: 800, height: 500 });
    await bare.goto(`${stack.baseUrl}/player/?channel=${CH}`);
    await waitFor('the bundled player to say the channel is private', async () => {
      const p = await bare.evaluate<{ phase: string; text: string }>('({ phase: window.beamPlayer.phase, text: document.getElementById("message-text").textContent })');
      return p.phase === 'error' && /private/.test(p.text) ? p : null;
    }, 20000).catch(async (e: Error) => { throw await fail(bare, e.message); });
    await bare.close();
  });
});
