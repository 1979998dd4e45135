/**
 * Redundant publishers with real encoders: an ffmpeg primary over SRT and an ffmpeg backup over RTMP
 * (`<key>?role=backup`, the channel API's `ingest.backup.rtmp`) publish one channel at once. The primary is on
 * air; killed, the backup carries the channel on (the media playlist keeps growing, the status says the backup
 * is on air with the switch and its reason, the switch metric counts it, the dashboard shows both inputs); the
 * primary restarted, it is back on air once healthy for the return time; both switches are notified to the
 * server webhook as `backup.switch`. A stock hls.js in Chromium plays through both switches without a fatal
 * error, and its playback goes on past them. A backup that reached another ingest process never takes the
 * channel from the primary, and carries it on once the primary leaves. A primary whose picture ends while its
 * sound goes on gives way to the backup (lost video).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { AUTH, TEST_API_TOKEN } from '../../helpers/app';
import { wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { startStack, waitFor, type Stack } from '../player/stack';
import { findPagesDirs } from '../../../engine/api/pages';
import pino from 'pino';
import { createIngestService, DEFAULT_INGEST_CONFIG } from '../../../ingest/ingest-service';
import { createWebhooks, type Webhooks } from '../../../core/webhooks/webhooks';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';

const CH = 'redundant';
/** Short so the test sees the return; the default is 10 s. */
const RETURN_MS = 3000;
/** Twice the default: an encoder starved for a second on a loaded machine is not taken for a failure. */
const STALL_MS = 2000;

let stack: Stack;
let browser: TestBrowser;
/** The server webhook's receiver: every switch is notified as `backup.switch`. */
let rx: WebhookReceiver;
let hooks: Webhooks;
const publishers: Publisher[] = [];

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><script src="/__stock/hls.min.js"></script></head>
<body><video id="v" muted autoplay playsinline></video><script>
const v = document.getElementById('v');
const s = window.__stock = { fatal: [], errors: [], playingAt: null };
const hls = window.__hls = new Hls();
hls.on(Hls.Events.ERROR, (_e, d) => {
  const what = d.details + (d.reason ? ' (' + d.reason + ')' : d.error ? ' (' + d.error.message + ')' : '') + (d.frag ? ' frag ' + d.frag.sn : '') + (d.url ? ' ' + d.url : '');
  if (d.fatal) s.fatal.push(what); else s.errors.push(what);
});
v.addEventListener('playing', () => { if (s.playingAt === null) s.playingAt = Date.now(); });
hls.loadSource('/live/${CH}/master.m3u8');
hls.attachMedia(v);
v.play().catch(() => undefined);
</script></body></html>`;

interface StockState {
  fatal: string[];
  errors: string[];
  playingAt: number | null;
  currentTime: number;
}
const stateOf = (page: Page) => page.evaluate<StockState>('({ ...window.__stock, currentTime: document.getElementById("v").currentTime })');

interface Input { protocol: string; health: string; onAir: boolean }
interface Redundancy {
  onAir: 'primary' | 'backup' | null;
  inputs: { primary: Input | null; backup: Input | null };
  switches: { at: string; from: string; to: string; reason: string }[];
  switchCount: number;
}

async function channel(): Promise<{ state: string; status: { redundancy: Redundancy | null } }> {
  const res = await fetch(`${stack.baseUrl}/api/channels/${CH}`, { headers: AUTH });
  assert.equal(res.status, 200);
  return (await res.json()) as { state: string; status: { redundancy: Redundancy | null } };
}

/** The media sequence number of the media playlist's last segment, or null before it exists. */
async function lastSegment(ch = CH): Promise<{ msn: number; text: string } | null> {
  const res = await fetch(`${stack.baseUrl}/live/${ch}/v-source.m3u8`);
  if (!res.ok) return null;
  const text = await res.text();
  const first = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  const count = text.split('\n').filter((l) => l.startsWith('#EXTINF:')).length;
  return count > 0 ? { msn: first + count - 1, text } : null;
}

async function switchMetric(reason?: string, ch = CH): Promise<number> {
  const m = await stack.ingestRegistry.getSingleMetric('beam_backup_switches_total')?.get();
  return (m?.values ?? []).filter((v) => v.labels.channel === ch && (reason === undefined || v.labels.reason === reason)).reduce((a, v) => a + v.value, 0);
}

/** testsrc2 (primary) or smptebars (backup), 2 s GOPs, no B-frames, AAC. */
function encoder(pattern: string, out: string[]): Publisher {
  const p = wrapFfmpeg([
    '-f', 'lavfi', '-i', `${pattern}=size=426x240:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '120', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p', '-b:v', '400k',
    '-c:a', 'aac', '-b:a', '64k', ...out,
  ]);
  publishers.push(p);
  return p;
}

beforeAll(async () => {
  browser = await launchBrowser();
  rx = await startWebhookReceiver();
  hooks = createWebhooks({ log: pino({ level: 'silent' }) }, {
    url: rx.url('/server'), secret: 'e2e-server-secret-0123456789', admissionDefault: 'allow', timeoutMs: 1000, retries: 2, retryDelayMs: 200, queueLimit: 100, logSize: 200,
  });
  stack = await startStack({ live: true, redundancy: { stallMs: STALL_MS, returnMs: RETURN_MS }, webhooks: hooks });
}, 60000);

afterAll(async () => {
  for (const p of publishers) p.stop();
  await browser?.close();
  await stack?.close();
  await hooks?.close();
  await rx?.close();
});

describe('redundant publishers (primary over SRT, backup over RTMP)', () => {
  it('switches to the backup when the primary dies and back once it has returned; hls.js plays through', { timeout: 150000 }, async () => {
    const res = await fetch(`${stack.baseUrl}/api/channels`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: CH, ladder: [] }),
    });
    const created = await res.text();
    assert.equal(res.status, 201, created);
    const settings = (JSON.parse(created) as { ingest: { srt: string; rtmp: string; backup: { srt: string; rtmp: string; larix: { streamid: string } } } }).ingest;
    assert.match(settings.backup.rtmp, /\?role=backup$/);
    assert.match(settings.backup.larix.streamid, /,role=backup$/);
    await new Promise((r) => setTimeout(r, 150)); // the ingest registry hears of the channel over pub/sub

    const diag = () => `\nstatus: ${JSON.stringify(lastStatus)}\npublishers: ${publishers.map((p) => p.stderr()).join('\n---\n')}`;
    let lastStatus: unknown = null;
    const status = async () => {
      const c = await channel();
      lastStatus = c.status.redundancy;
      return c.status.redundancy;
    };

    let primary = encoder('testsrc2', ['-f', 'mpegts', settings.srt]);
    await waitFor('the primary on air', async () => (await lastSegment()) !== null, 20000).catch((e: Error) => { throw new Error(e.message + diag()); });
    encoder('smptebars', ['-f', 'flv', settings.backup.rtmp]);
    await waitFor('both inputs healthy, the primary on air', async () => {
      const r = await status();
      return r && r.onAir === 'primary' && r.inputs.primary?.health === 'healthy' && r.inputs.backup?.health === 'healthy' && r.inputs.backup.protocol === 'rtmp' && !r.inputs.backup.onAir;
    }, 20000).catch((e: Error) => { throw new Error(e.message + diag()); });
    assert.equal((await status())?.switchCount, 0, 'a backup joining does not take the channel over');

    const page = await browser.newPage({ width: 600, height: 400 });
    const hlsJs = readFileSync(join(findPagesDirs(__dirname).hlsJsDir, 'hls.min.js'));
    await page.route((u) => u.pathname.startsWith('/__stock/'), (route) => route.request().url().endsWith('/hls.min.js')
      ? route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs })
      : route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
    await page.goto(`${stack.baseUrl}/__stock/page.html`);
    const playing = await waitFor('hls.js to play', async () => {
      const s = await stateOf(page);
      if (s.fatal.length) throw new Error(`hls.js fatal: ${s.fatal.join(', ')}`);
      return s.playingAt !== null && s.currentTime > 0 ? s : null;
    }, 30000);

    // The primary dies: the backup goes on air, the playlist goes on growing.
    const beforeKill = (await lastSegment())?.msn ?? 0;
    const killedAt = Date.now();
    primary.stop();
    await primary.exited;
    const since = (r: Redundancy, t: number, to: string) => r.switches.find((s) => Date.parse(s.at) >= t && s.to === to);
    const away = await waitFor('the backup on air', async () => {
      const r = await status();
      return r && r.onAir === 'backup' && since(r, killedAt, 'backup') ? r : null;
    }, 20000).catch((e: Error) => { throw new Error(e.message + diag()); });
    const first = since(away, killedAt, 'backup');
    assert.equal(first?.from, 'primary');
    assert.ok(['primary-stalled', 'primary-disconnected'].includes(first?.reason ?? ''), `reason: ${first?.reason}`);
    assert.ok((await switchMetric(first?.reason)) >= 1, 'the switch is counted with its reason');
    assert.equal(await switchMetric(), away.switchCount, 'the metric counts every switch the status lists');
    const grown = await waitFor('the playlist to grow from the backup', async () => {
      const l = await lastSegment();
      return l && l.msn >= beforeKill + 3 ? l : null;
    }, 30000).catch((e: Error) => { throw new Error(e.message + diag()); });
    assert.match(grown.text, /#EXT-X-DISCONTINUITY\n/, 'the two encoders\' timestamps cannot be joined: a discontinuity');
    assert.equal((await channel()).state, 'live', 'the channel stayed live');

    // The dashboard (with the API token) shows both inputs, the backup on air, and the switch with its reason.
    const dash = await browser.newPage({ width: 1000, height: 800 });
    await dash.goto(`${stack.baseUrl}/`);
    await dash.evaluate(`localStorage.setItem('beamline.apiToken', ${JSON.stringify(TEST_API_TOKEN)})`);
    await dash.reload();
    const card = `article[data-channel="${CH}"]`;
    await waitFor('the dashboard to show the backup on air', async () =>
      /RTMP · healthy · ON AIR/.test((await dash.locator(`${card} [data-field="input-backup"]`).textContent().catch(() => '')) ?? ''), 15000);
    assert.match((await dash.locator(`${card} [data-field="input-primary"]`).textContent()) ?? '', /SRT · .* · standby|not connected/);
    assert.match((await dash.locator(`${card} [data-field="switch-history"]`).textContent()) ?? '', new RegExp(`primary → backup: ${first?.reason}`));
    await dash.close();

    // The primary comes back: after the return time it is on air again.
    const restartedAt = Date.now();
    primary = encoder('testsrc2', ['-f', 'mpegts', settings.srt]);
    const back = await waitFor('the primary back on air', async () => {
      const r = await status();
      return r && r.onAir === 'primary' && since(r, restartedAt, 'primary') ? r : null;
    }, 30000).catch((e: Error) => { throw new Error(e.message + diag()); });
    const returned = since(back, restartedAt, 'primary');
    assert.deepEqual({ from: returned?.from, reason: returned?.reason }, { from: 'backup', reason: 'primary-restored' });
    assert.ok(Date.parse(returned?.at ?? '') - restartedAt >= RETURN_MS, 'not before the primary was healthy for the return time');
    assert.equal(back.inputs.backup?.health, 'healthy', 'the backup stays connected, in standby');
    assert.equal(back.inputs.backup?.onAir, false);
    assert.ok((await switchMetric('primary-restored')) >= 1);
    // Both switches were notified to the webhook, with the reasons the status lists.
    const notified = await waitFor('a backup.switch notification per switch', async () => {
      const got = rx.of('backup.switch', CH);
      return got.length >= back.switchCount ? got : null;
    }, 15000);
    assert.deepEqual(notified.map((r) => ({ from: r.body.from, to: r.body.to, reason: r.body.reason })),
      back.switches.map((s) => ({ from: s.from, to: s.to, reason: s.reason })));
    const afterReturn = (await lastSegment())?.msn ?? 0;
    await waitFor('the playlist to grow from the primary again', async () => ((await lastSegment())?.msn ?? 0) >= afterReturn + 2, 20000);

    // hls.js played through both switches: no fatal error, and its playback went on past them.
    const timeAtReturn = (await stateOf(page)).currentTime;
    const later = await waitFor('hls.js to play on after the return', async () => {
      const s = await stateOf(page);
      if (s.fatal.length) throw new Error(`hls.js fatal: ${s.fatal.join(', ')}; errors: ${s.errors.join(', ')}\nplaylist:\n${(await lastSegment())?.text}`);
      return s.currentTime > timeAtReturn + 2 ? s : null;
    }, 30000);
    assert.deepEqual(later.fatal, []);
    assert.ok(later.currentTime > playing.currentTime);
    await page.close();
  });

  it('a backup that reached another ingest process never takes the channel from the primary; it goes on air when the primary leaves', { timeout: 120000 }, async () => {
    const name = 'redundant-apart';
    const other = createIngestService(
      { store: stack.store, live: stack.live, channels: stack.channels, subscriber: stack.connect(), log: pino({ level: 'silent' }) },
      { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: null },
    );
    await other.start();
    try {
      const res = await fetch(`${stack.baseUrl}/api/channels`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name, ladder: [] }),
      });
      const created = await res.text();
      assert.equal(res.status, 201, created);
      const settings = (JSON.parse(created) as { ingest: { srt: string; backup: { srt: string } } }).ingest;
      await new Promise((r) => setTimeout(r, 300)); // both ingest registries hear of the channel over pub/sub
      const primary = encoder('testsrc2', ['-f', 'mpegts', settings.srt]);
      await waitFor('the primary on air', async () => (await lastSegment(name)) !== null, 20000);
      const backupUrl = settings.backup.srt.replace(`:${stack.srtPort}?`, `:${other.srtPort() as number}?`);
      assert.notEqual(backupUrl, settings.backup.srt);
      const backup = encoder('smptebars', ['-f', 'mpegts', backupUrl]);
      const joined = (await lastSegment(name))?.msn ?? 0;
      // Three more segments from the primary while the backup publishes elsewhere: nothing switched, nobody was cut.
      const later = await waitFor('the primary to go on', async () => {
        const l = await lastSegment(name);
        return l && l.msn >= joined + 3 ? l : null;
      }, 30000);
      assert.equal(primary.child.exitCode, null, `the primary is still publishing: ${primary.stderr()}`);
      assert.equal(backup.child.exitCode, null, `the backup waits, connected: ${backup.stderr()}`);
      assert.doesNotMatch(later.text, /#EXT-X-DISCONTINUITY\n/, 'one input all along');
      // The primary leaves: its lease is released, the backup elsewhere takes the channel on.
      primary.stop();
      await primary.exited;
      const before = (await lastSegment(name))?.msn ?? 0;
      const after = await waitFor('the backup on air through the other process', async () => {
        const l = await lastSegment(name);
        return l && l.msn >= before + 3 && /#EXT-X-DISCONTINUITY\n/.test(l.text) ? l : null;
      }, 40000).catch((e: Error) => { throw new Error(`${e.message}\n${backup.stderr()}`); });
      assert.ok(after.msn >= before + 3);
      assert.equal((await fetch(`${stack.baseUrl}/api/channels/${name}`, { headers: AUTH }).then((r) => r.json()) as { state: string }).state, 'live');
      backup.stop();
    } finally {
      await other.close();
    }
  });

  it('a primary that loses its video (its sound goes on) gives way to the backup, still connected', { timeout: 90000 }, async () => {
    const name = 'redundant-novideo';
    const res = await fetch(`${stack.baseUrl}/api/channels`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name, ladder: [] }),
    });
    const created = await res.text();
    assert.equal(res.status, 201, created);
    const settings = (JSON.parse(created) as { ingest: { srt: string; backup: { srt: string } } }).ingest;
    await new Promise((r) => setTimeout(r, 150));
    // The primary's picture ends after 15 s (its input's -t), its sound goes on: the MPEG-TS carries audio only.
    const primary = wrapFfmpeg([
      // -re on the sound's input too: it stays paced in real time once the picture has ended.
      '-t', '15', '-f', 'lavfi', '-i', 'testsrc2=size=426x240:rate=25', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '90', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p', '-b:v', '400k',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', settings.srt,
    ]);
    publishers.push(primary);
    await waitFor('the primary on air', async () => (await lastSegment(name)) !== null, 20000);
    encoder('smptebars', ['-f', 'mpegts', settings.backup.srt]);
    const redundancyOf = async () => {
      const r = await fetch(`${stack.baseUrl}/api/channels/${name}`, { headers: AUTH });
      return ((await r.json()) as { status: { redundancy: Redundancy | null } }).status.redundancy;
    };
    const away = await waitFor('the backup on air for the primary\'s lost video', async () => {
      const r = await redundancyOf();
      return r && r.onAir === 'backup' && r.switches.length > 0 ? r : null;
    }, 45000).catch((e: Error) => { throw new Error(`${e.message}; primary: ${primary.stderr()}`); });
    // What ingest sees once the picture ends: audio only (no-video), or, as ffmpeg 5.1 does over SRT, no more
    // packets at all while the connection stays up (stalled: the same command writing a file keeps the sound
    // going, sent to srt-live-transmit it stops with the picture): either way the backup takes over.
    const reason = away.switches[0]?.reason ?? '';
    assert.ok(['primary-lost-video', 'primary-stalled'].includes(reason), `reason ${reason}`);
    assert.equal(away.switches.length, 1);
    assert.ok(['no-video', 'stalled'].includes(away.inputs.primary?.health ?? ''), 'the primary is still connected, without video');
    assert.equal(primary.child.exitCode, null, 'its publisher was not cut');
    assert.equal(await switchMetric(reason, name), 1);
  });
});
