import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  MAX_TOKEN_LENGTH, newPlaybackSecret, parsePlaybackToken, signMpd, signPlaybackToken, signPlaylist, tokenOfQuery, verifyPlaybackToken, withTokenQuery,
} from '../../../core/model/playback-token';

const secret = 'k'.repeat(43);
const now = Date.parse('2026-12-02T20:00:00Z');
const inAnHour = now / 1000 + 3600;

describe('playback tokens', () => {
  it('the documented format: <expires>.<ip>.<base64url HMAC-SHA256(secret, "<channel>\\n<expires>\\n<ip>")>', () => {
    const t = signPlaybackToken(secret, 'main', inAnHour, '203.0.113.7');
    const mac = createHmac('sha256', secret).update(`main\n${inAnHour}\n203.0.113.7`).digest('base64url');
    assert.equal(t, `${inAnHour}.203.0.113.7.${mac}`);
    assert.equal(signPlaybackToken(secret, 'main', inAnHour), `${inAnHour}..${createHmac('sha256', secret).update(`main\n${inAnHour}\n`).digest('base64url')}`);
    assert.deepEqual(parsePlaybackToken(t), { expires: inAnHour, ip: '203.0.113.7', signature: mac });
  });

  it('opens its channel before it expires, for any address or the one it names', () => {
    assert.deepEqual(verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', inAnHour), '198.51.100.1', now), { ok: true, expires: inAnHour });
    assert.equal(verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', inAnHour, '203.0.113.7'), '203.0.113.7', now).ok, true);
    assert.equal(verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', inAnHour, '203.0.113.7'), '::ffff:203.0.113.7', now).ok, true, 'IPv4-mapped');
    assert.equal(verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', inAnHour, '2001:DB8::1'), '2001:db8::1', now).ok, true, 'IPv6, any case');
  });

  const refused: Array<[string, () => ReturnType<typeof verifyPlaybackToken>, RegExp]> = [
    ['no token', () => verifyPlaybackToken(secret, 'main', undefined, '1.2.3.4', now), /private/],
    ['an empty token', () => verifyPlaybackToken(secret, 'main', '', '1.2.3.4', now), /private/],
    ['another channel', () => verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'other', inAnHour), '1.2.3.4', now), /not valid/],
    ['another secret', () => verifyPlaybackToken(secret, 'main', signPlaybackToken(newPlaybackSecret(), 'main', inAnHour), '1.2.3.4', now), /not valid/],
    ['expired', () => verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', now / 1000 - 1), '1.2.3.4', now), /expired/],
    ['expiring now', () => verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', now / 1000), '1.2.3.4', now), /expired/],
    ['another address', () => verifyPlaybackToken(secret, 'main', signPlaybackToken(secret, 'main', inAnHour, '203.0.113.7'), '203.0.113.8', now), /another viewer/],
    ['a later expiry with the old signature', () => {
      const t = signPlaybackToken(secret, 'main', inAnHour);
      return verifyPlaybackToken(secret, 'main', t.replace(String(inAnHour), String(inAnHour + 86400)), '1.2.3.4', now);
    }, /not valid/],
    ['an address added to an any-address token', () => {
      const t = signPlaybackToken(secret, 'main', inAnHour);
      return verifyPlaybackToken(secret, 'main', t.replace('..', '.1.2.3.4.'), '1.2.3.4', now);
    }, /not valid/],
    ['a tampered signature', () => {
      const t = signPlaybackToken(secret, 'main', inAnHour);
      return verifyPlaybackToken(secret, 'main', t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A'), '1.2.3.4', now);
    }, /not valid/],
    ['an overlong token', () => verifyPlaybackToken(secret, 'main', `${inAnHour}..${'A'.repeat(10000)}`, '1.2.3.4', now), /malformed/],
  ];
  for (const [what, run, reason] of refused) {
    it(`refuses ${what}`, () => {
      const r = run();
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    });
  }

  it('parses only the bounded shape', () => {
    const sig = 'A'.repeat(43);
    for (const bad of ['', '.', '..', `x..${sig}`, `1..${sig}A`, `1..${sig.slice(1)}`, `1234567890123..${sig}`, `1.not-an-ip.${sig}`, `1.999.1.1.1.${sig}`, `1.1.2.3.4.5.${sig}`, `-1..${sig}`, `1..${sig.slice(1)}=`, `1 ..${sig}`, 'x'.repeat(MAX_TOKEN_LENGTH + 1)]) {
      assert.equal(parsePlaybackToken(bad), null, bad.slice(0, 40));
    }
    assert.ok(parsePlaybackToken(`1..${sig}`));
    assert.ok(parsePlaybackToken(`1.ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.${sig}`)?.ip.length === 45);
    assert.throws(() => signPlaybackToken(secret, 'main', 1.5));
    assert.throws(() => signPlaybackToken(secret, 'main', inAnHour, 'localhost'));
  });

  it('the query parameter: one string or none', () => {
    assert.equal(tokenOfQuery({ token: 'a' }), 'a');
    assert.equal(tokenOfQuery({ token: ['a', 'b'] }), undefined);
    assert.equal(tokenOfQuery(undefined), undefined);
    assert.equal(withTokenQuery('v-720p.m3u8', 'T'), 'v-720p.m3u8?token=T');
    assert.equal(withTokenQuery('v-720p.m3u8?start=1', 'T'), 'v-720p.m3u8?start=1&token=T');
  });

  it('a media playlist: every URI line and URI attribute carries the token, nothing else changes', () => {
    const text = [
      '#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MAP:URI="v-720p-init.mp4"', '#EXTINF:2.000,', 'v-720p-5.m4s',
      '#EXT-X-PART:DURATION=0.200,URI="v-720p-6.0.m4s",INDEPENDENT=YES', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="v-720p-6.1.m4s"',
      '#EXT-X-RENDITION-REPORT:URI="audio.m3u8",LAST-MSN=6,LAST-PART=0', '',
    ].join('\n');
    assert.equal(signPlaylist(text, '9.1.2.3.4.S'), [
      '#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MAP:URI="v-720p-init.mp4?token=9.1.2.3.4.S"', '#EXTINF:2.000,', 'v-720p-5.m4s?token=9.1.2.3.4.S',
      '#EXT-X-PART:DURATION=0.200,URI="v-720p-6.0.m4s?token=9.1.2.3.4.S",INDEPENDENT=YES', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="v-720p-6.1.m4s?token=9.1.2.3.4.S"',
      '#EXT-X-RENDITION-REPORT:URI="audio.m3u8?token=9.1.2.3.4.S",LAST-MSN=6,LAST-PART=0', '',
    ].join('\n'));
  });

  it('a multivariant playlist keeps its catch-up query', () => {
    const text = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Main",URI="audio.m3u8?start=1&end=2"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv-source.m3u8?start=1&end=2\n';
    assert.equal(signPlaylist(text, 'T'), '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Main",URI="audio.m3u8?start=1&end=2&token=T"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv-source.m3u8?start=1&end=2&token=T\n');
  });

  it('an MPD: the segment templates carry the token', () => {
    const xml = '<SegmentTemplate timescale="90000" initialization="v-$RepresentationID$-init.mp4" media="v-$RepresentationID$-$Number$.m4s" startNumber="3"/>';
    assert.equal(signMpd(xml, 'T'), '<SegmentTemplate timescale="90000" initialization="v-$RepresentationID$-init.mp4?token=T" media="v-$RepresentationID$-$Number$.m4s?token=T" startNumber="3"/>');
  });
});
