import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { guardedChannel } from '../../../engine/api/private-media';
import { playbackAccess, signPlaybackToken } from '../../../core/model/playback-token';
import { BeamError } from '../../../core/model/errors';

describe('which requests a private channel guards outside /live', () => {
  const cases: [string, string, string | null][] = [
    ['GET', '/beams/main', 'main'],
    ['GET', '/beams/main/video/latest.jpg?width=320', 'main'],
    ['HEAD', '/beams/main.720p/0/frame_90000.png', 'main'],
    ['GET', '/beams/main/all/10s-20s.mp4?accurate=1', 'main'],
    ['GET', '/beams/ma%69n/video', 'main'],
    ['GET', '/beams', null],
    ['GET', '/beams?offset=1', null],
    ['GET', '/beams/Not-A-Channel/video', null],
    ['GET', '/beams/%E0%A4%A/video', null],
    ['PUT', '/beams/main', null],
    ['POST', '/live/main/whep', 'main'],
    ['POST', '/live/main/whep?token=x', 'main'],
    ['DELETE', '/live/main/whep/abc', null],
    ['GET', '/api/channels/main', null],
    ['GET', '/live/main/master.m3u8', null],
  ];
  for (const [method, url, want] of cases) it(`${method} ${url}`, () => assert.equal(guardedChannel(method, url), want));
});

describe('playbackAccess', () => {
  const secret = 's'.repeat(43);
  const now = Date.parse('2026-12-02T20:00:00Z');
  const token = signPlaybackToken(secret, 'main', now / 1000 + 60);
  const is403 = (e: unknown) => e instanceof BeamError && e.statusCode === 403;
  it('a public channel: nothing to check or carry on', () => assert.equal(playbackAccess({ name: 'main' }, {}, '1.2.3.4', now), null));
  it('a private channel: its token, carried on', () => assert.equal(playbackAccess({ name: 'main', private: true, playbackSecret: secret }, { token }, '1.2.3.4', now), token));
  it('a private channel without a token, with a bad one, or without a secret: 403', () => {
    assert.throws(() => playbackAccess({ name: 'main', private: true, playbackSecret: secret }, {}, '1.2.3.4', now), is403);
    assert.throws(() => playbackAccess({ name: 'main', private: true, playbackSecret: secret }, { token: [token, token] }, '1.2.3.4', now), is403);
    assert.throws(() => playbackAccess({ name: 'main', private: true, playbackSecret: secret }, { token }, '1.2.3.4', now + 61000), is403);
    assert.throws(() => playbackAccess({ name: 'main', private: true }, { token }, '1.2.3.4', now), is403);
  });
});
