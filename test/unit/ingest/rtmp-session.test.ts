// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createChunkReader } from '../../../ingest/rtmp/chunk-reader';
import { MSG } from '../../../ingest/rtmp/messages';
import { normalizeApp } from '../../../ingest/rtmp/rtmp-connection';
import { createPublishSession, type PublishSessionInit, type RtmpCloseReason } from '../../../ingest/rtmp/rtmp-session';
import { resolveRtmpSettings } from '../../../ingest/rtmp/rtmp-server';

const capture = Buffer.from(readFileSync(join(__dirname, 'fixtures', 'rtmp-ffmpeg-publish.golden.b64'), 'latin1').replace(/\s+/g, ''), 'base64');
const media = createChunkReader({ maxMessageBytes: 1 << 20 }).push(capture).messages
  .filter((m) => m.typeId === MSG.audio || m.typeId === MSG.video || m.typeId === MSG.dataAmf0);

function makeSession(overrides: Partial<PublishSessionInit> = {}) {
  let clock = 1_000_000;
  const terminated: [RtmpCloseReason, string][] = [];
  const warnings: string[] = [];
  const session = createPublishSession({
    id: 'rtmp-1', app: 'live', streamKey: 'k', channel: null, peer: { address: '127.0.0.1', port: 1 }, streamId: 1,
    log: { info() {}, warn(_o, m) { warnings.push(m ?? ''); } },
    now: () => clock,
    terminate: (reason, detail) => { terminated.push([reason, detail]); session.end(reason, detail); },
    ...overrides,
  });
  return { session, terminated, warnings, tick: (ms: number) => { clock += ms; } };
}

/** Walks FLV bytes and returns [type, timestamp, size] per tag, checking every PreviousTagSize. */
function walkFlv(flv: Buffer): [number, number, number][] {
  assert.equal(flv.toString('latin1', 0, 3), 'FLV');
  const tags: [number, number, number][] = [];
  let at = 13;
  while (at < flv.length) {
    const size = flv.readUIntBE(at + 1, 3);
    const ts = (flv.readUIntBE(at + 4, 3) | (flv[at + 7]! << 24)) >>> 0;
    tags.push([flv[at]!, ts, size]);
    assert.equal(flv.readUInt32BE(at + 11 + size), 11 + size, `PreviousTagSize after tag ${tags.length}`);
    at += 11 + size + 4;
  }
  assert.equal(at, flv.length);
  return tags;
}

test('publish session: FLV header first, then one tag per message; metadata and stats', () => {
  const { session, tick } = makeSession();
  const chunks: Buffer[] = [];
  const metas: Record<string, unknown>[] = [];
  session.on('data', (b) => chunks.push(b));
  session.on('metadata', (m) => metas.push(m));
  for (const m of media) {
    tick(10);
    session.media(m.typeId, m.timestamp, m.payload);
  }
  assert.equal(chunks[0]!.length, 13, 'the header is its own chunk');
  assert.equal(chunks[0]![4], 0x05, 'metadata named both audio and video codecs');
  const tags = walkFlv(Buffer.concat(chunks));
  assert.deepEqual(tags.map((t) => t[0]), media.map((m) => m.typeId));
  assert.equal(tags[0]![0], 18);
  assert.equal(metas.length, 1);
  assert.equal(metas[0]!.videocodecid, 7);
  assert.equal(metas[0]!.audiocodecid, 10);
  const stats = session.stats();
  assert.equal(stats.videoCodec, 'h264');
  assert.equal(stats.audioCodec, 'aac');
  assert.equal(stats.bytes, media.reduce((n, m) => n + m.payload.length, 0));
  assert.ok(stats.keyFrames >= 1 && stats.videoFrames > stats.keyFrames);
  assert.ok(stats.bitrate > 0);
  assert.equal(stats.lastTimestamp, media.at(-1)!.timestamp);
});

test('publish session: unsupported codecs end it with a reason naming the codec', () => {
  const cases: { name: string; typeId: number; body: Buffer; match: RegExp }[] = [
    { name: 'HEVC over enhanced RTMP', typeId: MSG.video, body: Buffer.from('9068766331', 'hex'), match: /enhanced RTMP video 'hvc1' is not supported/ },
    { name: 'VP6', typeId: MSG.video, body: Buffer.from('1400', 'hex'), match: /On2 VP6 is not supported: publish H.264/ },
    { name: 'enhanced RTMP audio', typeId: MSG.audio, body: Buffer.from('9f4f707573', 'hex'), match: /audio codec enhanced RTMP audio \(multitrack\/FourCC\) is not supported: publish AAC/ },
    { name: 'device-specific sound', typeId: MSG.audio, body: Buffer.from('f200', 'hex'), match: /device-specific sound is not supported/ },
    { name: 'reserved sound format', typeId: MSG.audio, body: Buffer.from('c600', 'hex'), match: /FLV sound format 12 is not supported/ },
  ];
  for (const c of cases) {
    const { session, terminated, warnings } = makeSession();
    const closes: [RtmpCloseReason, string][] = [];
    const data: Buffer[] = [];
    session.on('close', (r, d) => closes.push([r, d]));
    session.on('data', (b) => data.push(b));
    session.media(c.typeId, 0, c.body);
    assert.equal(terminated.length, 1, c.name);
    assert.equal(terminated[0]![0], 'unsupported-codec');
    assert.match(terminated[0]![1], c.match);
    assert.match(warnings[0]!, c.match);
    assert.deepEqual(closes.map((x) => x[0]), ['unsupported-codec']);
    assert.equal(data.length, 0, 'nothing of the refused stream is emitted');
    assert.equal(session.closed, true);
    session.media(MSG.video, 0, Buffer.from('1700000000', 'hex'));
    assert.equal(data.length, 0, 'no data after close');
  }
});

test('publish session: audio FFmpeg decodes passes through as FLV tags, named by its codec (transcoded later)', () => {
  const cases: { name: string; body: string; codec: string }[] = [
    { name: 'MP3', body: '2fff fb90 00', codec: 'mp3' },
    { name: 'MP3 8 kHz', body: 'e2ff f3', codec: 'mp3' },
    { name: 'PCM platform endian', body: '0f 0000 0000', codec: 'pcm_s16le' },
    { name: 'PCM little endian 8-bit', body: '3c 80 80', codec: 'pcm_u8' },
    { name: 'Nellymoser', body: '6e 00 00', codec: 'nellymoser' },
    { name: 'G.711 A-law', body: '72 d5d5', codec: 'pcm_alaw' },
    { name: 'G.711 mu-law', body: '82 ffff', codec: 'pcm_mulaw' },
    { name: 'Speex', body: 'b6 00 00', codec: 'speex' },
    { name: 'ADPCM', body: '1e 00 00', codec: 'adpcm_swf' },
  ];
  for (const c of cases) {
    const { session, terminated } = makeSession();
    const data: Buffer[] = [];
    session.on('data', (b) => data.push(b));
    const body = Buffer.from(c.body.replace(/ /g, ''), 'hex');
    session.media(MSG.audio, 40, body);
    session.media(MSG.audio, 63, body);
    assert.equal(terminated.length, 0, c.name);
    const tags = walkFlv(Buffer.concat(data));
    assert.deepEqual(tags, [[8, 40, body.length], [8, 63, body.length]], c.name);
    const stats = session.stats();
    assert.equal(stats.audioCodec, c.codec, c.name);
    assert.equal(stats.audioFrames, 2, c.name);
  }
});

test('publish session: close is emitted once; a throwing listener does not break the session', () => {
  const { session, warnings } = makeSession();
  const closes: string[] = [];
  session.on('data', () => { throw new Error('consumer bug'); });
  session.on('close', (r) => closes.push(r));
  session.media(MSG.video, 0, Buffer.from('1700000000', 'hex'));
  assert.ok(warnings.some((w) => /listener threw/.test(w)));
  session.close();
  session.close();
  session.end('disconnected', 'again');
  assert.deepEqual(closes, ['closed']);
});

test('publish session: route is the channel when the authorizer names one', () => {
  assert.equal(makeSession({ channel: 'news' }).session.route, 'news');
  assert.equal(makeSession().session.route, 'k');
});

test('app names and config validation', () => {
  assert.equal(normalizeApp('/live/'), 'live');
  assert.equal(normalizeApp('live?token=1'), 'live');
  assert.equal(resolveRtmpSettings({ host: '127.0.0.1', port: 0 }).app, 'live');
  assert.throws(() => resolveRtmpSettings({ host: '127.0.0.1', port: 0, idleTimeoutMs: -1 }), /idleTimeoutMs must be an integer/);
  assert.throws(() => resolveRtmpSettings({ host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 30 }), /maxMessageBytes/);
  assert.throws(() => resolveRtmpSettings({ host: '127.0.0.1', port: 0, app: 'a b' }), /app must be a plain name/);
});
