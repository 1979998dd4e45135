import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { DEFAULT_LADDER, planLadder, validateLadder } from '../../../transcoders/ladder';
import { BeamError } from '../../../core/model/errors';

describe('ladder validation', () => {
  it('the default ladder is valid', () => assert.deepEqual(validateLadder(DEFAULT_LADDER), DEFAULT_LADDER));
  it('an empty ladder means the source only', () => assert.deepEqual(validateLadder([]), []));
  const bad: [string, unknown, RegExp][] = [
    ['not an array', { a: 1 }, /ladder must be an array/],
    ['odd width names rung and field', [{ name: 'x', width: 641, height: 360, videoBitrate: 800000 }], /ladder\[0\] \(x\)\.width must be an even/],
    ['missing bitrate', [{ name: 'x', width: 640, height: 360 }], /ladder\[0\] \(x\)\.videoBitrate/],
    ['maxBitrate below bitrate', [{ name: 'x', width: 640, height: 360, videoBitrate: 800000, maxBitrate: 1 }], /\.maxBitrate/],
    ['reserved name', [{ name: 'source', width: 640, height: 360, videoBitrate: 800000 }], /must not be 'source'/],
    ['duplicate name', [{ name: 'a', width: 640, height: 360, videoBitrate: 800000 }, { name: 'a', width: 320, height: 180, videoBitrate: 300000 }], /ladder\[1\] \(a\)\.name is used twice/],
    ['bad profile', [{ name: 'a', width: 640, height: 360, videoBitrate: 800000, profile: 'ultra' }], /\.profile must be one of baseline, main, high/],
    ['unknown field', [{ name: 'a', width: 640, height: 360, videoBitrate: 800000, crf: 23 }], /unknown field\(s\) crf/],
    ['too many rungs', Array.from({ length: 9 }, (_, i) => ({ name: `r${i}`, width: 640, height: 360, videoBitrate: 800000 })), /at most 8/],
    ['absurd fps', [{ name: 'a', width: 640, height: 360, videoBitrate: 800000, fps: 1000 }], /\.fps/],
  ];
  for (const [name, ladder, re] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => validateLadder(ladder), (e: unknown) => e instanceof BeamError && e.statusCode === 400 && re.test(e.message)));
  }
});

describe('ladder planning', () => {
  it('1080p source gets every default rung, largest first', () => {
    assert.deepEqual(planLadder(DEFAULT_LADDER, 1920, 1080).map((r) => [r.outWidth, r.outHeight]), [[1280, 720], [854, 480], [640, 360]]);
  });
  it('never upscales: a 540p source skips 720p', () => {
    assert.deepEqual(planLadder(DEFAULT_LADDER, 960, 540).map((r) => r.name), ['480p', '360p']);
  });
  it('a rung equal to the source is skipped (the source rung already is that)', () => {
    assert.deepEqual(planLadder(DEFAULT_LADDER, 1280, 720).map((r) => r.name), ['480p', '360p']);
  });
  it('keeps the source aspect (4:3 source)', () => {
    assert.deepEqual(planLadder(DEFAULT_LADDER, 1440, 1080).map((r) => [r.outWidth, r.outHeight]), [[960, 720], [640, 480], [480, 360]]);
  });
  it('a tiny source has no rungs', () => assert.deepEqual(planLadder(DEFAULT_LADDER, 320, 240), []));
});
