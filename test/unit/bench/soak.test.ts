/** The soak bench's pure parts: its sets, the memory slope, and a playlist's edge. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { parseSoakSets, playlistEdge, slope } from '../../bench/soak-bench';

describe('soak bench (pure)', () => {
  it('reads channels × Mbps sets and refuses anything else', () => {
    assert.deepEqual(parseSoakSets('20x6, 40x3'), [{ channels: 20, mbps: 6 }, { channels: 40, mbps: 3 }]);
    assert.deepEqual(parseSoakSets('1x0.5'), [{ channels: 1, mbps: 0.5 }]);
    for (const bad of ['', '20', 'x6', '20x', '0x6', '201x6', '20x0', '20x51', '20x6;40x3']) assert.throws(() => parseSoakSets(bad), /SOAK_SETS/, bad);
  });

  it('fits a least-squares slope', () => {
    assert.equal(slope([]), 0);
    assert.equal(slope([{ x: 1, y: 5 }]), 0);
    assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.equal(slope([{ x: 0, y: 7 }, { x: 10, y: 7 }]), 0);
    assert.ok(Math.abs(slope([{ x: 0, y: 0 }, { x: 1, y: 1 }, { x: 2, y: 1 }, { x: 3, y: 2 }]) - 0.6) < 1e-9);
  });

  it('finds the newest segment and when it ends by PROGRAM-DATE-TIME; null without segments', () => {
    const text = [
      '#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:41',
      '#EXT-X-PROGRAM-DATE-TIME:2026-12-02T20:00:00.000Z', '#EXTINF:2.000,', 'v-source-41.m4s',
      '#EXT-X-PROGRAM-DATE-TIME:2026-12-02T20:00:02.000Z', '#EXTINF:1.500,', 'v-source-42.m4s',
      '#EXT-X-PART:DURATION=0.2,URI="v-source-43.0.m4s"',
    ].join('\n');
    assert.deepEqual(playlistEdge(text), { firstMsn: 41, lastMsn: 42, endMs: Date.parse('2026-12-02T20:00:03.500Z') });
    assert.equal(playlistEdge('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-PART:DURATION=0.2,URI="a.m4s"'), null);
    assert.equal(playlistEdge('not a playlist'), null);
  });
});
