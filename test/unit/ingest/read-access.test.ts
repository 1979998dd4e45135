/**
 * What SRT readers may read of a channel: a public one's source and rungs without a token; a private one's with a
 * playback token as s=<token> (the gate wants some s=, the token itself is checked by readerAccess).
 */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createChannel } from '../../../core/model/channel';
import { signPlaybackToken } from '../../../core/model/playback-token';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { readerAccess, srtReadAccess } from '../../../ingest/srt/read-access';

const NOW = Date.UTC(2026, 11, 3, 6, 0, 0);
const inAnHour = NOW / 1000 + 3600;

describe('SRT read access (pure)', () => {
  it('a public channel: its source and every rung of its ladder, no token, never expires', () => {
    const ch = createChannel({ name: 'pub' }, validateLadder, DEFAULT_LADDER);
    assert.deepEqual(srtReadAccess(ch), { rungs: ['source', ...DEFAULT_LADDER.map((r) => r.name)] });
    assert.deepEqual(srtReadAccess({ ...ch, ladder: [] }), { rungs: ['source'] });
    assert.deepEqual(readerAccess(ch, '#!::r=pub,m=request', '127.0.0.1', NOW), { ok: true, expiresMs: null });
  });

  it('a private channel: the gate wants a token; one without a playback secret opens for nobody', () => {
    const ch = createChannel({ name: 'priv', private: true }, validateLadder, DEFAULT_LADDER);
    assert.equal(ch.private, true);
    assert.ok(ch.playbackSecret);
    assert.deepEqual(srtReadAccess(ch), { rungs: ['source', ...DEFAULT_LADDER.map((r) => r.name)], signedToken: true });
    const { playbackSecret: _s, ...noSecret } = ch;
    assert.equal(srtReadAccess(noSecret), null);
    assert.equal(readerAccess(noSecret, '#!::r=priv,m=request,s=x', '127.0.0.1', NOW).ok, false);
  });

  it('a private channel\'s reader: a valid token opens it until it expires; missing, wrong, expired, another channel\'s or another address\'s do not', () => {
    const ch = createChannel({ name: 'priv', private: true }, validateLadder, DEFAULT_LADDER);
    const secret = ch.playbackSecret as string;
    const good = signPlaybackToken(secret, 'priv', inAnHour);
    assert.deepEqual(readerAccess(ch, `#!::r=priv,m=request,s=${good}`, '10.0.0.7', NOW), { ok: true, expiresMs: inAnHour * 1000 });
    assert.deepEqual(readerAccess(ch, encodeURIComponent(`#!::r=priv,m=request,t=360p,s=${good}`), '10.0.0.7', NOW), { ok: true, expiresMs: inAnHour * 1000 }, 'percent-encoded, with a rung');
    const bound = signPlaybackToken(secret, 'priv', inAnHour, '10.0.0.7');
    assert.equal(readerAccess(ch, `#!::r=priv,m=request,s=${bound}`, '10.0.0.7', NOW).ok, true);
    const cases: [string, RegExp][] = [
      ['#!::r=priv,m=request', /private: add s=<playback token> to the streamid/],
      ['#!::r=priv,m=request,s=nonsense', /malformed/],
      [`#!::r=priv,m=request,s=${signPlaybackToken('another-secret', 'priv', inAnHour)}`, /not valid for channel 'priv'/],
      [`#!::r=priv,m=request,s=${signPlaybackToken(secret, 'other', inAnHour)}`, /not valid for channel 'priv'/],
      [`#!::r=priv,m=request,s=${signPlaybackToken(secret, 'priv', NOW / 1000 - 1)}`, /expired/],
      [`#!::r=priv,m=request,s=${signPlaybackToken(secret, 'priv', inAnHour, '10.0.0.8')}`, /another viewer address/],
    ];
    for (const [sid, why] of cases) {
      const a = readerAccess(ch, sid, '10.0.0.7', NOW);
      assert.equal(a.ok, false, sid);
      if (!a.ok) assert.match(a.reason, why, sid);
    }
  });
});
