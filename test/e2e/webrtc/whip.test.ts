/**
 * WHIP ingest end to end: a real WebRTC publisher (node-datachannel's PeerConnection with H.264 and Opus send
 * tracks, as OBS Studio's WHIP output is built) POSTs its offer to /whip/<channel> with the stream key as bearer
 * token, then forwards into its tracks the RTP a real ffmpeg makes (libx264 baseline, libopus), with the
 * negotiated SSRCs and payload types. What a user sees: the channel goes live, its HLS playlists list segments,
 * a segment decodes as H.264 video and AAC audio (Opus made AAC by the ingest), DELETE ends the publish (the
 * channel goes idle), and a second publish (a reconnect) continues the channel after a discontinuity. A missing key is 401, a wrong one 403, an unknown channel 404, a bad offer 400 JSON, an
 * offer without H.264 400 saying so.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectWhip, whipClient, WHIP_AUDIO_PT, WHIP_VIDEO_PT, type WhipClient } from '../../helpers/whip-client';
import { waitFor } from '../../helpers/process';
import { startRig, type Rig } from './rig';
import { AUTH } from '../../helpers/app';

let rig: Rig;
let streamKey = '';
let dir = '';
const children: ChildProcess[] = [];
/** Every client stays referenced until the end: libdatachannel stops a track whose JS wrapper was collected. */
const clients: WhipClient[] = [];

function post(channel: string, body: string, auth: string | null, type = 'application/sdp'): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': type };
  if (auth !== null) headers.authorization = auth;
  return fetch(`${rig.baseUrl}/whip/${channel}`, { method: 'POST', headers, body });
}

/** ffmpeg making RTP: H.264 (libx264 with `videoOpts`) to one port, Opus to the other, in real time. */
function ffmpegRtp(videoPort: number, audioPort: number, videoOpts: string[]): ChildProcess {
  const ff = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-t', '60', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
    '-t', '60', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-map', '0:v', '-c:v', 'libx264', ...videoOpts, '-g', '25', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    '-f', 'rtp', '-payload_type', String(WHIP_VIDEO_PT), `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
    '-map', '1:a', '-c:a', 'libopus', '-ac', '2', '-b:a', '64k',
    '-f', 'rtp', '-payload_type', String(WHIP_AUDIO_PT), `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(ff);
  return ff;
}

/** A connected WHIP publisher on `channel` whose tracks are fed by ffmpeg (see connectWhip for its retry). */
async function publish(channel: string, key: string, videoOpts: string[], forward: { delayVideoEvery?: number } = {}): Promise<{ location: string; ff: ChildProcess; err: () => string; client: WhipClient }> {
  const c = await connectWhip(rig.baseUrl, channel, key, (res) => {
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    assert.match(res.headers.get('location') ?? '', new RegExp(`^/whip/${channel}/[\\w-]+$`));
  });
  clients.push(...c.clients);
  const { videoPort, audioPort } = await c.client.forward(forward);
  const ff = ffmpegRtp(videoPort, audioPort, videoOpts);
  let err = '';
  ff.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return { location: c.location, ff, err: () => err, client: c.client };
}

interface Status { state: string; ingest: { protocol?: string; rtp?: { nacked: number; recovered: number; lostPackets: number; keyframeRequests: number; droppedAccessUnits: number } } | null; lastDisconnectReason?: string | null }

async function status(channel: string): Promise<Status> {
  const ch = (await (await fetch(`${rig.baseUrl}/api/channels/${channel}`, { headers: AUTH })).json()) as { status: Status };
  return ch.status;
}

/** Packets ffprobe reads per codec in a file. */
function probe(file: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    execFile('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_name,nb_read_packets', '-of', 'csv=p=0', file], { timeout: 10000 }, (err, stdout) => {
      if (err) return reject(err);
      const out = new Map<string, number>();
      for (const line of stdout.split('\n')) {
        const [codec, n] = line.trim().split(',');
        if (codec) out.set(codec, Number(n));
      }
      resolve(out);
    });
  });
}

describe('WHIP ingest (node-datachannel publisher, ffmpeg RTP)', { timeout: 120000 }, () => {
  beforeAll(async () => {
    rig = await startRig();
    dir = await mkdtemp(join(tmpdir(), 'beamline-whip-'));
    const res = await fetch(`${rig.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: 'obs', ladder: [], reconnectWindowSeconds: 0 }) });
    assert.equal(res.status, 201, await res.clone().text());
    streamKey = ((await res.json()) as { streamKey: string }).streamKey;
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const c of clients) c.close();
    await rig?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a missing key 401, a wrong key 403, an unknown channel 404, bad offers and offers without H.264 400, all JSON', async () => {
    const client = await whipClient();
    clients.push(client);
    const { offer } = client;
    const missing = await post('obs', offer, null);
    assert.equal(missing.status, 401);
    assert.match(((await missing.json()) as { message: string }).message, /Bearer/);
    const wrong = await post('obs', offer, 'Bearer not-the-key');
    assert.equal(wrong.status, 403);
    assert.equal(((await wrong.json()) as { statusCode: number }).statusCode, 403);
    assert.equal((await post('nope', offer, `Bearer ${streamKey}`)).status, 404);
    for (const body of ['hello', 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n', 'x'.repeat(40000)]) {
      const r = await post('obs', body, `Bearer ${streamKey}`);
      assert.ok(r.status === 400 || r.status === 413, `body ${JSON.stringify(body.slice(0, 20))}: ${r.status}`);
      const json = (await r.json()) as { statusCode: number; message: string };
      assert.equal(json.statusCode, r.status);
    }
    const vp8 = offer.replace(/a=rtpmap:(\d+) H264\/90000/g, 'a=rtpmap:$1 VP8/90000');
    const noH264 = await post('obs', vp8, `Bearer ${streamKey}`);
    assert.equal(noH264.status, 400);
    assert.match(((await noH264.json()) as { message: string }).message, /H\.264/);
    assert.equal((await post('obs', offer, `Bearer ${streamKey}`, 'text/plain')).status, 415);
    assert.equal((await status('obs')).state, 'idle', 'no refused offer made the channel live');
    assert.equal(rig.whip.sessions(), 0);
  });

  it('publishes H.264 + Opus: the channel goes live, HLS lists segments with h264 and aac, DELETE ends it', async () => {
    const { location, ff, err } = await publish('obs', streamKey, ['-profile:v', 'baseline', '-bf', '0']);
    const patch = (url: string) => fetch(`${rig.baseUrl}${url}`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=mid:0\r\na=end-of-candidates\r\n' });
    assert.equal((await patch(location)).status, 204, 'trickled candidates are taken');
    assert.equal((await patch('/whip/obs/unknown')).status, 404);

    const live = await waitFor('the channel to be live', async () => {
      const st = await status('obs');
      return st.state === 'live' && st.ingest ? st : null;
    }, 30000).catch((e: Error) => assert.fail(`${e.message}; ffmpeg: ${err()}`));
    assert.equal(live.ingest?.protocol, 'whip');

    // The CMAF playlists list segments.
    const master = await (await fetch(`${rig.baseUrl}/live/obs/master.m3u8`)).text();
    const variant = master.split('\n').find((l) => l && !l.startsWith('#'));
    assert.ok(variant, master);
    await waitFor('two segments in the media playlist', async () => {
      const text = await (await fetch(`${rig.baseUrl}/live/obs/${variant}`)).text();
      return (text.match(/^#EXTINF:/gm) ?? []).length >= 2;
    }, 30000);

    // A segment of the TS variant decodes as H.264 + AAC.
    const tsMaster = await (await fetch(`${rig.baseUrl}/live/obs/master.m3u8?format=ts`)).text();
    const tsVariant = tsMaster.split('\n').find((l) => l && !l.startsWith('#'));
    assert.ok(tsVariant, tsMaster);
    const playlist = await (await fetch(`${rig.baseUrl}/live/obs/${tsVariant}`)).text();
    const segment = playlist.split('\n').filter((l) => l && !l.startsWith('#'))[0];
    assert.ok(segment, playlist);
    const bytes = Buffer.from(await (await fetch(new URL(segment, `${rig.baseUrl}/live/obs/${tsVariant}`))).arrayBuffer());
    const file = join(dir, 'segment.ts');
    await writeFile(file, bytes);
    const packets = await probe(file);
    const seen = JSON.stringify([...packets]);
    assert.ok((packets.get('h264') ?? 0) > 10, `h264 frames in the segment: ${seen}`);
    assert.ok((packets.get('aac') ?? 0) > 10, `aac frames in the segment (Opus made AAC): ${seen}`);
    // And ffmpeg decodes it without error.
    await new Promise<void>((resolve, reject) => execFile('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { timeout: 20000 }, (err) => (err ? reject(err) : resolve())));

    const del = await fetch(`${rig.baseUrl}${location}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    await waitFor('the channel to go idle', async () => (await status('obs')).state === 'idle', 15000);
    assert.equal((await fetch(`${rig.baseUrl}${location}`, { method: 'DELETE' })).status, 404);
    ff.kill('SIGKILL');

    // The encoder publishes again (a reconnect): the channel goes live and continues after what it stored, with a
    // discontinuity, on the same playlist.
    // The variant's segments: `av-source-<n>.m4s` (one audio track: listed muxed).
    const stem = variant.replace(/\.m3u8.*$/, '');
    const segmentLine = new RegExp(`^${stem}-(\\d+)\\.m4s$`, 'gm');
    const numbers = (text: string) => [...text.matchAll(segmentLine)].map((m) => Number(m[1]));
    const before = Math.max(...numbers(await (await fetch(`${rig.baseUrl}/live/obs/${variant}`)).text()));
    // This time over a network that reorders: every 25th video packet comes 30 ms late. The server asks for it
    // (RTCP NACK: what a publisher's libdatachannel answers by resending), puts it back in its place when it
    // comes, and so needs no keyframe for it: the channel's diagnostics count the NACKs and recoveries, no
    // picture is lost, and keyframes are asked for only at the start.
    const again = await publish('obs', streamKey, ['-profile:v', 'baseline', '-bf', '0'], { delayVideoEvery: 25 });
    await waitFor('the channel live again', async () => (await status('obs')).state === 'live', 30000).catch((e: Error) => assert.fail(`${e.message}; ffmpeg: ${again.err()}`));
    const text = await waitFor('a segment of the new publish after a discontinuity', async () => {
      const text = await (await fetch(`${rig.baseUrl}/live/obs/${variant}`)).text();
      return Math.max(...numbers(text)) > before + 2 && text.includes('#EXT-X-DISCONTINUITY') ? text : null;
    }, 30000);
    const rtp = await waitFor('the late packets asked for and recovered, in the channel diagnostics', async () => {
      const r = (await status('obs')).ingest?.rtp;
      return r && r.recovered >= 5 ? r : null;
    }, 15000);
    // Late packets are asked for (one that comes before the next 20 ms tick fills its gap unasked).
    assert.ok(rtp.nacked > 0, `late packets were asked for (${JSON.stringify(rtp)})`);
    // A packet later than the 120 ms hold (this process also runs the publisher, on a loaded machine) is lost,
    // and only then is a picture dropped and a keyframe asked for (at the start: two).
    assert.ok(rtp.recovered > rtp.lostPackets, `most late packets recovered (${JSON.stringify(rtp)})`);
    assert.ok(rtp.droppedAccessUnits <= rtp.lostPackets && rtp.keyframeRequests <= 2 + rtp.lostPackets, `pictures dropped only for packets given up (${JSON.stringify(rtp)})`);
    // The reordered publish's segments decode.
    const last = text.split('\n').filter((l) => new RegExp(`^${stem}-\\d+\\.m4s$`).test(l)).slice(-2, -1)[0] as string;
    const init = Buffer.from(await (await fetch(`${rig.baseUrl}/live/obs/${stem}-init.mp4`)).arrayBuffer());
    const media = Buffer.from(await (await fetch(`${rig.baseUrl}/live/obs/${last}`)).arrayBuffer());
    const mp4 = join(dir, 'reordered.mp4');
    await writeFile(mp4, Buffer.concat([init, media]));
    await new Promise<void>((resolve, reject) => execFile('ffmpeg', ['-v', 'error', '-xerror', '-i', mp4, '-f', 'null', '-'], { timeout: 20000 }, (err) => (err ? reject(err) : resolve())));
    assert.equal((await fetch(`${rig.baseUrl}${again.location}`, { method: 'DELETE' })).status, 204);
    again.ff.kill('SIGKILL');
  });

  it('ends a publish whose video has B-frames, saying so in the channel status', async () => {
    const res = await fetch(`${rig.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: 'bframes', ladder: [], reconnectWindowSeconds: 0 }) });
    assert.equal(res.status, 201);
    const key = ((await res.json()) as { streamKey: string }).streamKey;
    const pub = await publish('bframes', key, ['-profile:v', 'main', '-bf', '2']);
    const st = await waitFor('the publish to end', async () => {
      const s = await status('bframes');
      return s.state === 'idle' && s.lastDisconnectReason ? s : null;
    }, 30000).catch((e: Error) => assert.fail(`${e.message}; ffmpeg: ${pub.err()}`));
    assert.match(st.lastDisconnectReason ?? '', /B-frames/);
    pub.ff.kill('SIGKILL');
  });
});
