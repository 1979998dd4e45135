/** The archive's catalog, the pure parts: what a rebuild of Redis reads back, validated as new input would be. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  CatalogError, channelObjectKey, contentObjectKey, contentOfFolder, decodeChannelEntry, decodeContentEntry, encodeChannelEntry,
  encodeContentEntry, segmentOfKey,
} from '../../../core/archive/catalog';
import { completeRecords } from '../../../core/archive/restore';
import { createChannel } from '../../../core/model/channel';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import type { Format } from '../../../core/model/media';

const channel = { ...createChannel({ name: 'main', dvrWindowSeconds: 7200, passphrase: 'secret-pass-1' }, validateLadder, DEFAULT_LADDER), createdAt: '2026-01-01T00:00:00.000Z' };
const format = { type: 'format', url: 'main.720p', streams: [{ index: 0, codec_type: 'video' }] } as unknown as Format;

describe('archive catalog', () => {
  it('keeps its objects beside the content item\'s segments, so deleting the content item deletes them', () => {
    assert.equal(channelObjectKey('main'), 'main/channel.json');
    assert.equal(contentObjectKey('main.720p'), 'main.720p/content.json');
    assert.equal(contentObjectKey('a:b'), 'a%3Ab/content.json');
  });

  it('a channel round-trips with its stream key, settings and creation time', () => {
    const back = decodeChannelEntry(encodeChannelEntry(channel, { index: 812, savedAtMs: 1_700_000_000_000 }), 'main', validateLadder, DEFAULT_LADDER);
    assert.deepEqual(back, { channel, head: { index: 812, savedAtMs: 1_700_000_000_000 } });
    assert.deepEqual(decodeChannelEntry(encodeChannelEntry(channel), 'main', validateLadder, DEFAULT_LADDER).head, { index: 0, savedAtMs: 0 });
    const priv = { ...channel, private: true };
    assert.deepEqual(decodeChannelEntry(encodeChannelEntry(priv), 'main', validateLadder, DEFAULT_LADDER).channel, priv, 'private, with its playback secret (tokens keep working)');
    const bad = decodeChannelEntry(encodeChannelEntry({ ...priv, playbackSecret: 'short' }), 'main', validateLadder, DEFAULT_LADDER).channel;
    assert.ok(bad.private === true && bad.playbackSecret !== 'short' && (bad.playbackSecret?.length ?? 0) >= 43, 'an invalid saved secret is replaced');
  });

  it('a saved channel is validated like new input: wrong name, bad key, bad settings, unknown version are refused', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
    assert.throws(() => decodeChannelEntry(encodeChannelEntry(channel), 'other', validateLadder, DEFAULT_LADDER), CatalogError);
    assert.throws(() => decodeChannelEntry(enc({ version: 1, channel: { ...channel, streamKey: 'short' } }), 'main', validateLadder, DEFAULT_LADDER), /stream key/);
    assert.throws(() => decodeChannelEntry(enc({ version: 1, channel: { ...channel, dvrWindowSeconds: -5 } }), 'main', validateLadder, DEFAULT_LADDER), /dvrWindowSeconds/);
    assert.throws(() => decodeChannelEntry(enc({ version: 1, channel: { ...channel, ladder: 'x' } }), 'main', validateLadder, DEFAULT_LADDER), CatalogError);
    assert.throws(() => decodeChannelEntry(enc({ version: 2, channel }), 'main', validateLadder, DEFAULT_LADDER), /version/);
    assert.throws(() => decodeChannelEntry(Buffer.from('{not json'), 'main', validateLadder, DEFAULT_LADDER), /not JSON/);
  });

  it('a content item round-trips with its rendition link; one naming another item is refused', () => {
    const entry = { format, renditionOf: { source: 'main', streamMap: [{ source: 0, target: 0 }] } } as never;
    assert.deepEqual(decodeContentEntry(encodeContentEntry(entry), 'main.720p'), entry);
    assert.deepEqual(decodeContentEntry(encodeContentEntry({ format, renditionOf: null }), 'main.720p').renditionOf, null);
    assert.throws(() => decodeContentEntry(encodeContentEntry({ format, renditionOf: null }), 'main'), CatalogError);
  });

  it('folders and segment keys map back to names and numbers; anything else is ignored', () => {
    assert.equal(contentOfFolder('main/'), 'main');
    assert.equal(contentOfFolder('a%3Ab/'), 'a:b');
    assert.equal(contentOfFolder('%2Ehidden/'), null, 'no content name starts with a dot');
    assert.equal(contentOfFolder('a%2/'), null);
    assert.equal(contentOfFolder('a%62/'), null, 'a name encoded another way than the archive encodes it');
    assert.equal(segmentOfKey('main/s0/42.seg', 'main', 0), 42);
    assert.equal(segmentOfKey('main/s1/42.seg', 'main', 0), null);
    assert.equal(segmentOfKey('main/s0/42.seg.tmp-1', 'main', 0), null);
    assert.equal(segmentOfKey('main/s0/content.json', 'main', 0), null);
  });
});

describe('records restored from the archive', () => {
  const rec = (index: number, startDts: number, durationPts = 180_000) => ({ index, startPts: startDts + 3000, startDts, durationPts, wallClockMs: 1_000_000 + (startDts / 90), discontinuity: false, discontinuitySequence: 2 });

  it('fill a hole between two records with lost segments sharing its time, and the lost tail up to the head', () => {
    const { records, lost } = completeRecords([rec(12, 720_000), rec(10, 360_000), rec(9, 180_000)], 14);
    assert.deepEqual(records.map((r) => r.index), [9, 10, 11, 12, 13, 14]);
    assert.deepEqual(lost, [11, 13, 14]);
    const hole = records[2] as ReturnType<typeof rec>;
    assert.deepEqual({ startDts: hole.startDts, durationPts: hole.durationPts, startPts: hole.startPts }, { startDts: 540_000, durationPts: 180_000, startPts: 543_000 });
    const tail = records[5] as ReturnType<typeof rec>;
    assert.equal(tail.startDts, (records[4] as ReturnType<typeof rec>).startDts + 180_000);
    assert.equal(tail.wallClockMs, (records[4] as ReturnType<typeof rec>).wallClockMs + 2000);
    assert.equal(tail.discontinuitySequence, 2);
    for (let i = 1; i < records.length; i++) {
      const a = records[i - 1] as ReturnType<typeof rec>;
      assert.equal((records[i] as ReturnType<typeof rec>).startDts, a.startDts + a.durationPts, 'records tile the timeline');
    }
  });

  it('nothing archived: nothing restored', () => {
    assert.deepEqual(completeRecords([], 40), { records: [], lost: [] });
  });
});
