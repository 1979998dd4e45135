import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { applyPatch, createChannel, ingestSettings, newStreamKey, playbackUrls, renditionContent, rungOfContent, validateChannelName } from '../../../core/model/channel';
import { decodeEvent, encodeEvent } from '../../../core/model/live';
import { addressesFor } from '../../../engine/api/channels';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { BeamError } from '../../../core/model/errors';

const is400 = (e: unknown) => e instanceof BeamError && e.statusCode === 400;
const now = new Date('2026-11-22T10:00:00Z');

describe('channels', () => {
  it('creation fills defaults and a random key of at least 128 bits', () => {
    const ch = createChannel({ name: 'main' }, validateLadder, DEFAULT_LADDER, now);
    assert.equal(ch.dvrWindowSeconds, 3600);
    assert.equal(ch.reconnectWindowSeconds, 30);
    assert.equal(ch.lowLatency, true);
    assert.equal(ch.passphrase, null);
    assert.deepEqual(ch.ladder, DEFAULT_LADDER);
    assert.ok(Buffer.from(ch.streamKey, 'base64url').length * 8 >= 128);
    assert.notEqual(newStreamKey(), newStreamKey());
  });
  it('patch validates each field', () => {
    const ch = createChannel({ name: 'main' }, validateLadder, DEFAULT_LADDER, now);
    const p = applyPatch(ch, { passphrase: 'correct-horse-battery', lowLatency: false, ladder: [] }, validateLadder, now);
    assert.equal(p.passphrase, 'correct-horse-battery');
    assert.equal(p.lowLatency, false);
    assert.deepEqual(p.ladder, []);
    assert.equal(ch.partTargetSeconds, undefined, 'no part target: the server default');
    assert.equal(applyPatch(ch, { partTargetSeconds: 0.2 }, validateLadder, now).partTargetSeconds, 0.2);
    assert.equal(applyPatch(ch, { partTargetSeconds: null }, validateLadder, now).partTargetSeconds, null);
    assert.equal(createChannel({ name: 'quick', partTargetSeconds: 0.25 }, validateLadder, DEFAULT_LADDER, now).partTargetSeconds, 0.25);
    for (const body of [{ passphrase: 'short' }, { passphrase: 'has spaces in it' }, { passphrase: 'percent%20sign' }, { passphrase: 'x'.repeat(80) }, { dvrWindowSeconds: 1 }, { lowLatency: 'yes' }, { name: 'other' }, { streamKey: 'k' }, { colour: 'red' }, { ladder: [{}] }, { partTargetSeconds: 0.05 }, { partTargetSeconds: 1.5 }, { partTargetSeconds: '0.2' }]) {
      assert.throws(() => applyPatch(ch, body, validateLadder, now), is400, JSON.stringify(body));
    }
  });
  it('private: off by default with a secret ready; a boolean; the secret is never set by a patch', () => {
    const ch = createChannel({ name: 'main' }, validateLadder, DEFAULT_LADDER, now);
    assert.equal(ch.private, false);
    assert.ok(Buffer.from(ch.playbackSecret ?? '', 'base64url').length * 8 >= 256);
    assert.equal(createChannel({ name: 'vip', private: true }, validateLadder, DEFAULT_LADDER, now).private, true);
    const legacy = { ...ch, private: undefined, playbackSecret: undefined };
    const made = applyPatch(legacy, { private: true }, validateLadder, now);
    assert.ok(made.private === true && (made.playbackSecret?.length ?? 0) >= 43, 'a channel made before private ones gets a secret when it becomes private');
    assert.equal(applyPatch(ch, { private: true }, validateLadder, now).playbackSecret, ch.playbackSecret, 'the secret stays');
    for (const body of [{ private: 'yes' }, { private: 1 }, { playbackSecret: 'x'.repeat(43) }]) assert.throws(() => applyPatch(ch, body, validateLadder, now), is400, JSON.stringify(body));
    assert.deepEqual(playbackUrls('vip', 'http://h', '1..S'), { hls: 'http://h/live/vip/master.m3u8?token=1..S', dash: 'http://h/live/vip/manifest.mpd?token=1..S', player: 'http://h/player/?channel=vip&token=1..S' });
  });
  for (const bad of ['', 'Main', 'has space', 'a.b', '-x', 'x'.repeat(65)]) {
    it(`rejects channel name ${JSON.stringify(bad).slice(0, 20)}`, () => assert.throws(() => validateChannelName(bad), is400));
  }
  it('settings: OBS server + key for SRT and RTMP, Larix streamid, passphrase in SRT URLs', () => {
    const ch = { ...createChannel({ name: 'main', passphrase: 'secret_passphrase' }, validateLadder, DEFAULT_LADDER, now), streamKey: 'KEY' };
    const s = ingestSettings(ch, { httpBase: 'http://h:8080', ingestHost: 'h', srtPort: 9000, rtmpPort: 1935 });
    assert.equal(s.srt, 'srt://h:9000?streamid=KEY&passphrase=secret_passphrase&latency=200000');
    assert.equal(s.rtmp, 'rtmp://h:1935/live/KEY');
    assert.deepEqual(s.obs.rtmp, { server: 'rtmp://h:1935/live', streamKey: 'KEY' });
    assert.equal(s.obs.srt.server, 'srt://h:9000?passphrase=secret_passphrase&latency=200000');
    assert.equal(s.larix.latencyMs, 200, 'the default SRT latency');
    const slow = ingestSettings(ch, { httpBase: 'http://h:8080', ingestHost: 'h', srtPort: 9000, rtmpPort: 1935, srtLatencyMs: 1500 });
    assert.match(slow.srt, /&latency=1500000$/, 'a configured latency, in microseconds as libsrt URLs take it');
    assert.equal(slow.larix.latencyMs, 1500);
    assert.equal(s.obs.srt.streamKey, 'KEY');
    assert.equal(s.larix.streamid, '#!::r=main,m=publish,s=KEY');
    assert.equal(s.larix.passphrase, 'secret_passphrase');
    assert.deepEqual(s.whip, { url: 'http://h:8080/whip/main', bearerToken: 'KEY' }, 'WHIP: the endpoint on the HTTP base, the stream key as bearer token');
    // A backup encoder: the same shape, its role in the SRT streamid and as a query on the RTMP stream name.
    assert.equal(s.backup.larix.streamid, '#!::r=main,m=publish,s=KEY,role=backup');
    assert.equal(s.backup.srt, `srt://h:9000?streamid=${encodeURIComponent('#!::r=main,m=publish,s=KEY,role=backup')}&passphrase=secret_passphrase&latency=200000`);
    assert.equal(s.backup.rtmp, 'rtmp://h:1935/live/KEY?role=backup');
    assert.deepEqual(s.backup.obs.rtmp, { server: 'rtmp://h:1935/live', streamKey: 'KEY?role=backup' });
    assert.equal(s.backup.obs.srt.streamKey, '#!::r=main,m=publish,s=KEY,role=backup');
    assert.equal(s.backup.obs.srt.server, s.obs.srt.server);
    assert.deepEqual(Object.keys(s.backup).sort(), Object.keys(s).filter((k) => k !== 'backup' && k !== 'whip').sort(), 'the same shape, but no WHIP (it has no backup role)');
    assert.deepEqual(playbackUrls('main', 'http://h:8080'), { hls: 'http://h:8080/live/main/master.m3u8', dash: 'http://h:8080/live/main/manifest.mpd', player: 'http://h:8080/player/?channel=main' });
  });
  it('addresses come from the public URL, else the Host header', () => {
    assert.deepEqual(addressesFor('https://live.example.com', 'x:1', 'http'), { httpBase: 'https://live.example.com', ingestHost: 'live.example.com' });
    assert.deepEqual(addressesFor(null, '203.0.113.7:8080', 'http'), { httpBase: 'http://203.0.113.7:8080', ingestHost: '203.0.113.7' });
    assert.deepEqual(addressesFor(null, '[::1]:8080', 'http'), { httpBase: 'http://[::1]:8080', ingestHost: '[::1]' });
    assert.equal(addressesFor(null, 'evil host/<x>', 'http').ingestHost, 'localhost');
  });
});

describe('channel events', () => {
  it('round-trip through stream fields', () => {
    const e = { type: 'part:ready', segment: 3, part: 1, startPts: 90000, startDts: 90000, durationPts: 30000, independent: true } as const;
    assert.deepEqual(decodeEvent(encodeEvent(e)), e);
  });
  it('malformed fields are null', () => {
    assert.equal(decodeEvent(['data', '{}']), null);
    assert.equal(decodeEvent(['type', 'x', 'data', '{oops']), null);
  });
});

describe('rendition content names (`<channel>.<rung>`, built and parsed in one place)', () => {
  const cases: [string, string, string, string | null][] = [
    ['a rung of the channel', 'main', 'main.720p', '720p'],
    ['the channel itself is no rendition', 'main', 'main', null],
    ['a bare dot is no rendition', 'main', 'main.', null],
    ['another channel sharing a prefix', 'main', 'main2.720p', null],
    ['another channel', 'other', 'main.720p', null],
  ];
  for (const [name, channel, content, rung] of cases) it(name, () => assert.equal(rungOfContent(channel, content), rung));
  it('round-trips', () => assert.equal(rungOfContent('ch-1', renditionContent('ch-1', 'r_2')), 'r_2'));
});
