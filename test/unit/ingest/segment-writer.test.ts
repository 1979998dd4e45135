/**
 * The segment writer between the segmenter and the store, with the store and live store as narrow recording
 * fakes and a clock the test moves: a part is announced while its last frame is ingested (not when the next
 * frame comes), after its packets are written, and beam_part_ready_delay_seconds' callback gets first frame →
 * announcement.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Channel } from '../../../core/model/channel';
import type { PartRecord } from '../../../core/model/live';
import { createSegmenterState } from '../../../ingest/segmenter';
import { beginSession, createTimelineState } from '../../../ingest/timeline';
import { createBoundaryBook } from '../../../ingest/session/boundary-records';
import { createSegmentWriter } from '../../../ingest/session/segment-writer';

const CHANNEL: Channel = {
  name: 'w', streamKey: 'k', passphrase: null, dvrWindowSeconds: 60, reconnectWindowSeconds: 30, lowLatency: true, ladder: [],
  createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z',
};

/** 25 fps video only, 1 s keyframes, 0.2 s parts (5 frames); the clock moves 40 ms before each frame. */
function rig(flushMs = 50) {
  let t = 1_000_000;
  const log: string[] = [];
  const delays: number[] = [];
  const writer = createSegmentWriter({
    channel: CHANNEL,
    store: { writePackets: async (_c, batch) => { log.push(`packets ${batch.map((p) => p.meta.dts).join(',')}`); return { written: batch.length, refused: 0, duplicates: 0 }; } },
    live: {
      writeBoundaries: async (_c, w) => { for (const p of (w.parts ?? []) as PartRecord[]) log.push(`part ${p.segment}.${p.part} at ${t}`); },
      setTimeline: async () => undefined,
    },
    log: { info: () => undefined, warn: () => undefined },
    now: () => t,
    ttlMs: 60000, maxBatch: 64, flushMs, writable: () => undefined, onPacket: () => undefined,
    onPartReady: (_c, ms) => delays.push(ms),
  }, {
    timeline: beginSession(createTimelineState(0), [{ index: 0, time_base: [1, 90000] }]),
    segmenter: createSegmenterState({ videoStreamIndex: 0, audioStreamIndex: null, partTarget: 18000 }),
    book: createBoundaryBook(0),
    hasAudio: false,
  });
  const frame = async (i: number) => {
    t += 40;
    log.push(`frame ${i} at ${t}`);
    await writer.ingest({ streamIndex: 0, pts: i * 3600, dts: i * 3600, duration: 3600, keyframe: i % 25 === 0, data: Buffer.alloc(100) });
  };
  return { log, delays, frame, writer };
}

describe('segment writer: parts are announced on their last frame', () => {
  it('part 0 (frames 0-4) is written and announced while frame 4 is ingested, before frame 5 arrives', async () => {
    const r = rig();
    for (let i = 0; i < 11; i++) await r.frame(i);
    const at = (line: string) => r.log.indexOf(line);
    assert.ok(at('part 0.0 at 1000200') > at('frame 4 at 1000200'), r.log.join('\n'));
    assert.ok(at('part 0.0 at 1000200') < at('frame 5 at 1000240'), 'announced before the next frame');
    const packetsBefore = r.log.slice(0, at('part 0.0 at 1000200')).filter((l) => l.startsWith('packets')).join(' ');
    for (const dts of [0, 3600, 7200, 10800, 14400]) assert.match(packetsBefore, new RegExp(`\\b${dts}\\b`), `frame at ${dts} written before its part`);
    assert.ok(at('part 0.1 at 1000400') > at('frame 9 at 1000400') && at('part 0.1 at 1000400') < at('frame 10 at 1000440'));
    // First frame of each part → its announcement: four frame intervals (the writes take no time here).
    assert.deepEqual(r.delays, [160, 160]);
  });

  it('the frame completing a part is written in one store write with the frames waiting before it', async () => {
    const r = rig(1000);
    for (let i = 0; i < 6; i++) await r.frame(i);
    const at = (line: string) => r.log.indexOf(line);
    // Frame 0 opens the segment (written at once); frames 1-3 wait for the batch; frame 4 completes part 0.
    assert.deepEqual(r.log.slice(at('frame 4 at 1000200') + 1, at('part 0.0 at 1000200') + 1), ['packets 3600,7200,10800,14400', 'part 0.0 at 1000200'], r.log.join('\n'));
  });
});
