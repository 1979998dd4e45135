/** PART-TARGET of a live snapshot (pure): the longest part listed, the channel's part target before any part, and PART-HOLD-BACK from it. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Channel } from '../../../core/model/channel';
import type { PartRecord } from '../../../core/model/live';
import { partTarget, type Snapshot } from '../../../packager/live/snapshot';
import { serverControlOf } from '../../../packager/hls/media-playlist';

const channel = (partTargetSeconds?: number): Channel => ({
  name: 'ch', streamKey: 'k', passphrase: null, dvrWindowSeconds: 3600, reconnectWindowSeconds: 30, lowLatency: true, createdAt: '', updatedAt: '', ladder: [],
  ...(partTargetSeconds === undefined ? {} : { partTargetSeconds }),
});
/** Parts of `frames` 25 fps frames each (3600 ticks a frame). */
const parts = (...frames: number[]): PartRecord[] => frames.map((n, i) => ({ segment: 1, part: i, startPts: i * 18000, startDts: i * 18000, durationPts: n * 3600, independent: i === 0 }));
const snapshot = (c: Channel, p: PartRecord[]): Snapshot => ({
  channel: c, format: { type: 'format', url: 'ch', streams: [] }, hasAudio: false, closed: [], open: null, parts: p, markers: [], renditions: [],
  rungFrontiers: new Map(), takenAt: 0, version: null, memo: new Map(),
});

describe('PART-TARGET of a live snapshot', () => {
  it('the longest part: 3-frame parts (0.12 s) give 0.12, not the 0.2 s default', () => {
    assert.equal(partTarget(snapshot(channel(0.12), parts(3, 3, 2))), 0.12);
    assert.equal(partTarget(snapshot(channel(), parts(3, 3))), 0.12);
  });
  it('a part longer than the channel asked for raises it', () => {
    assert.equal(partTarget(snapshot(channel(0.2), parts(5, 6, 5))), 0.24);
  });
  it('before any part: the channel\'s part target, else the default', () => {
    assert.equal(partTarget(snapshot(channel(0.12), [])), 0.12);
    assert.equal(partTarget(snapshot(channel(), [])), 0.2);
  });
  it('PART-HOLD-BACK is three of them', () => {
    const sc = serverControlOf({ kind: 'live', mediaSequence: 0, segments: [], lowLatency: { partTarget: partTarget(snapshot(channel(0.12), parts(3, 3))), pendingParts: [] } });
    assert.ok(Math.abs((sc?.partHoldBack ?? 0) - 0.36) < 1e-9, `PART-HOLD-BACK ${sc?.partHoldBack}`);
  });
});
