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

/**
 * 25 fps video, 1 s keyframes, 0.2 s parts (5 frames); the clock moves 40 ms before each frame. With `audio`, a
 * stream 1 of 20 ms audio packets too (written packets of it are logged with an `a`).
 */
function rig(flushMs = 50, audio = false) {
  let t = 1_000_000;
  const log: string[] = [];
  const delays: number[] = [];
  const writer = createSegmentWriter({
    channel: CHANNEL,
    store: { writePackets: async (_c, batch) => { log.push(`packets ${batch.map((p) => `${p.streamIndex ? 'a' : ''}${p.meta.dts}`).join(',')}`); return { written: batch.length, refused: 0, duplicates: 0 }; } },
    live: {
      writeBoundaries: async (_c, w) => { for (const p of (w.parts ?? []) as PartRecord[]) log.push(`part ${p.segment}.${p.part} at ${t}`); },
      setTimeline: async () => undefined,
    },
    log: { info: () => undefined, warn: () => undefined },
    now: () => t,
    ttlMs: 60000, maxBatch: 64, flushMs, writable: () => undefined, onPacket: () => undefined,
    onPartReady: (_c, ms) => delays.push(ms),
  }, {
    timeline: beginSession(createTimelineState(0), [{ index: 0, time_base: [1, 90000] }, ...(audio ? [{ index: 1, time_base: [1, 90000] as [number, number] }] : [])]),
    segmenter: createSegmenterState({ videoStreamIndex: 0, audioStreamIndex: audio ? 1 : null, partTarget: 18000 }),
    book: createBoundaryBook(0),
    hasAudio: audio,
  });
  /** Frame `i`, arriving on its own (the demuxer hands it over after the writer's earlier work ran). */
  const arrive = () => new Promise((resolve) => setImmediate(resolve));
  /** Video frame `i` as the demuxer hands it over: `sameRead` with what came just before (no wait in between). */
  const frame = async (i: number, sameRead = false) => {
    if (!sameRead) await arrive();
    t += 40;
    log.push(`frame ${i} at ${t}`);
    await writer.ingest({ streamIndex: 0, pts: i * 3600, dts: i * 3600, duration: 3600, keyframe: i % 25 === 0, data: Buffer.alloc(100) });
  };
  /** Audio packet `i` (1800 ticks from 1800 × i), the clock moved `ms`. */
  const sound = async (i: number, sameRead = false, ms = 0) => {
    if (!sameRead) await arrive();
    t += ms;
    log.push(`audio ${i} at ${t}`);
    await writer.ingest({ streamIndex: 1, pts: i * 1800, dts: i * 1800, duration: 1800, keyframe: true, data: Buffer.alloc(10) });
  };
  return { log, delays, frame, sound, arrive, writer };
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

  it('packets handed over together are written together, a part they complete announced after them', async () => {
    const r = rig(1000);
    for (let i = 0; i < 4; i++) await r.frame(i);
    await r.frame(4);
    await r.frame(5, true);
    await r.arrive();
    const at = (line: string) => r.log.indexOf(line);
    assert.deepEqual(r.log.slice(at('frame 5 at 1000240') + 1), ['packets 3600,7200,10800,14400,18000', 'part 0.0 at 1000240'], r.log.join('\n'));
  });

  it('the audio completing a part, come with its last frame, goes in the same write, and nothing is written for it after', async () => {
    const r = rig(1000, true);
    for (let i = 0; i < 4; i++) await r.frame(i);
    for (let i = 0; i < 9; i++) await r.sound(i, true);
    await r.frame(4);
    await r.sound(9, true); // ends at 18000: part 0's end
    await r.sound(10, true);
    await r.arrive();
    const at = (line: string) => r.log.indexOf(line);
    assert.deepEqual(r.log.slice(at('audio 10 at 1000200') + 1), ['packets 3600,7200,10800,a0,a1800,a3600,a5400,a7200,a9000,a10800,a12600,a14400,14400,a16200,a18000', 'part 0.0 at 1000200'], r.log.join('\n'));
    await r.sound(11, false, 5);
    await r.arrive();
    assert.equal(r.log.at(-1), 'audio 11 at 1000205', 'written already: the next audio waits for the batch');
  });

  it('the audio completing an announced part, come later on its own, is written at once', async () => {
    const r = rig(1000, true);
    for (let i = 0; i < 5; i++) await r.frame(i);
    await r.arrive();
    const at = (line: string) => r.log.indexOf(line);
    assert.ok(at('part 0.0 at 1000200') > at('frame 4 at 1000200'), r.log.join('\n'));
    for (let i = 0; i < 9; i++) await r.sound(i, false, 1);
    assert.equal(r.log.at(-1), 'audio 8 at 1000209', 'short of the part: batched');
    await r.sound(9, false, 1);
    await r.arrive();
    assert.deepEqual(r.log.slice(at('audio 9 at 1000210') + 1), ['packets a0,a1800,a3600,a5400,a7200,a9000,a10800,a12600,a14400,a16200']);
  });
});
