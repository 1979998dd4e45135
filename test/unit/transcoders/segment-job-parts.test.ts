import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { ChannelEvent, SegmentRecord } from '../../../core/model/live';
import type { Format } from '../../../core/model/media';
import { PipelineError } from '../../../core/model/pipeline-errors';
import {
  closingWriteNeeded, contiguousParts, isClosed, planRungSegment, prefetchable, pushBatches, readyWindows, segmentPtsRange, sourceTail, sourceVideoOf, type PartWindow,
} from '../../../transcoders/segment-plan';
import { pollMs } from '../../../transcoders/segment-run';
import { segmentEventEffect, streamIdMs } from '../../../transcoders/segment-source';
import { cutRungPackets } from '../../../transcoders/rung-output';
import {
  droppedReason, failedRungResult, gapWarning, jobFailureFault, madeRungResult, rungFaults, rungResult, segmentJobResult,
} from '../../../transcoders/segment-result';
import { createTranscodeMetrics } from '../../../transcoders/transcode-metrics';

const fresh = { made: false, gap: false, published: false };
const seg = (over: Partial<SegmentRecord> = {}): SegmentRecord => ({ index: 5, startPts: 9000, startDts: 8000, durationPts: null, ...over } as SegmentRecord);

describe('segment plan: which rungs to make, and why not', () => {
  const cases: [string, Parameters<typeof planRungSegment>, ReturnType<typeof planRungSegment>][] = [
    ['a fresh rung in time is made', [fresh, false, 5], { action: 'make' }],
    ['a made rung is skipped', [{ ...fresh, made: true }, true, 9], { action: 'skip', reason: 'already made' }],
    ['a gapped rung is skipped', [{ ...fresh, gap: true, published: true }, false, 5], { action: 'skip', reason: 'already a gap' }],
    ['a partly published rung is an orphaned gap', [{ ...fresh, published: true }, false, 5], { action: 'gap', reason: 'partly published by a worker that stopped', code: 'TRANSCODE_ORPHANED' }],
    ['orphaned wins over late', [{ ...fresh, published: true }, true, 9], { action: 'gap', reason: 'partly published by a worker that stopped', code: 'TRANSCODE_ORPHANED' }],
    ['a late rung is a late gap naming the live edge', [fresh, true, 9], { action: 'gap', reason: 'too late: the live edge is at segment 9', code: 'TRANSCODE_LATE' }],
  ];
  for (const [name, args, want] of cases) it(name, () => assert.deepEqual(planRungSegment(...args), want));

  it('the pts range of a rung segment: open while the segment is, else to its last tick', () => {
    assert.deepEqual(segmentPtsRange({ startPts: 9000, durationPts: null }), { min: 9000, max: '+inf' });
    assert.deepEqual(segmentPtsRange({ startPts: 9000, durationPts: 180000 }), { min: 9000, max: 188999 });
  });

  it('a segment is closed once it has a duration', () => {
    assert.equal(isClosed(seg()), false);
    assert.equal(isClosed(seg({ durationPts: 0 })), true);
  });

  it('the source video is stream 0, a video with a size', () => {
    const stream = (index: number, codec_type: string, width?: number, height?: number) => ({ index, time_base: [1, 90000], codecpar: { codec_type, width, height } });
    const format = (...streams: object[]) => ({ type: 'format', url: 'ch', streams } as unknown as Format);
    assert.equal(sourceVideoOf(null), null);
    assert.equal(sourceVideoOf(format(stream(1, 'audio'))), null);
    assert.equal(sourceVideoOf(format(stream(1, 'video', 640, 360))), null, 'a video that is not stream 0');
    assert.equal(sourceVideoOf(format(stream(0, 'video'))), null, 'no size');
    assert.equal(sourceVideoOf(format(stream(0, 'video', 640, 0))), null);
    const found = sourceVideoOf(format(stream(1, 'audio'), stream(0, 'video', 640, 360)));
    assert.deepEqual([found?.video.index, found?.width, found?.height], [0, 640, 360]);
  });
});

describe('segment plan: publishing parts and closing', () => {
  const windows: PartWindow[] = [{ part: 0, start: 0, end: 100 }, { part: 1, start: 100, end: 200 }, { part: 2, start: 200, end: 300 }];

  it('ready windows: from the next unpublished one, in order, up to the first not complete', () => {
    assert.deepEqual(readyWindows(windows, 0, 99), []);
    assert.deepEqual(readyWindows(windows, 0, 200).map((w) => w.part), [0, 1]);
    assert.deepEqual(readyWindows(windows, 1, 250).map((w) => w.part), [1]);
    assert.deepEqual(readyWindows(windows, 1, Infinity).map((w) => w.part), [1, 2]);
    assert.deepEqual(readyWindows(windows, 3, Infinity), []);
  });

  it('a closing write is needed unless every window was published up to the segment end', () => {
    assert.equal(closingWriteNeeded(windows, 3, 300), false);
    assert.equal(closingWriteNeeded(windows, 2, 300), true, 'a window left unpublished');
    assert.equal(closingWriteNeeded(windows, 3, 350), true, 'the parts stop short of the end');
    assert.equal(closingWriteNeeded([], 0, 300), true, 'no parts at all');
  });

  it('the source tail: packets past the last part, none when the parts tile the segment', () => {
    const closed = { startDts: 1000, durationPts: 900 };
    assert.equal(sourceTail(closed, [{ startDts: 1000, durationPts: 400 }, { startDts: 1400, durationPts: 500 }]), null);
    assert.deepEqual(sourceTail(closed, [{ startDts: 1000, durationPts: 400 }]), { fromDts: 1400, toDts: 1900 });
    assert.deepEqual(sourceTail(closed, []), { fromDts: 1000, toDts: 1900 });
  });
});

describe('segment source: what an event means for the followed segment', () => {
  const part = (segment: number, p: number): ChannelEvent => ({ type: 'part:ready', segment, part: p, startPts: 10, startDts: 8, durationPts: 30, independent: p === 0 });

  it('a part of the segment, announced at the event id time (a part known from its record gets its time from it)', () => {
    assert.deepEqual(segmentEventEffect(5, '1700000000123-4', part(5, 1)), {
      kind: 'part', part: { segment: 5, part: 1, startPts: 10, startDts: 8, durationPts: 30, independent: false }, announcedAtMs: 1700000000123,
    });
    assert.equal(streamIdMs('42-0'), 42);
  });
  it('a part of another segment changes nothing', () => {
    assert.deepEqual(segmentEventEffect(5, '1-0', part(6, 1)), { kind: 'none' });
    assert.deepEqual(segmentEventEffect(5, '1-0', part(4, 9)), { kind: 'none' });
  });
  it('the close of the segment gives its duration; another segment’s close does not', () => {
    assert.deepEqual(segmentEventEffect(5, '1-0', { type: 'segment:closed', segment: 5, startPts: 10, durationPts: 900 }), { kind: 'closed', durationPts: 900 });
    assert.deepEqual(segmentEventEffect(5, '1-0', { type: 'segment:closed', segment: 4, startPts: 10, durationPts: 900 }), { kind: 'none' });
  });
  it('the segment (re)opening, a later one opening or the publisher leaving: read the record again', () => {
    const opened = (segment: number): ChannelEvent => ({ type: 'segment:opened', segment, startPts: 0, wallClockMs: 0, discontinuity: false });
    assert.deepEqual(segmentEventEffect(5, '1-0', opened(6)), { kind: 'reread' });
    assert.deepEqual(segmentEventEffect(5, '1-0', opened(5)), { kind: 'reread' }, 'a process continuing the channel announces a segment with no part anew');
    assert.deepEqual(segmentEventEffect(5, '1-0', opened(4)), { kind: 'none' });
    assert.deepEqual(segmentEventEffect(5, '1-0', { type: 'publisher:disconnected', reason: 'x' }), { kind: 'reread' });
    assert.deepEqual(segmentEventEffect(5, '1-0', { type: 'warning', message: 'x' }), { kind: 'none' });
  });
});

describe('segment run: feeding the source before its parts are announced', () => {
  const pk = (dts: number, keyframe = false) => ({ dts, keyframe });

  it('prefetchable: everything up to the first keyframe after the segment’s own (it may open the next segment)', () => {
    assert.deepEqual(prefetchable([pk(100, true), pk(130), pk(160)], 100).map((p) => p.dts), [100, 130, 160], 'the segment’s own keyframe is fed');
    assert.deepEqual(prefetchable([pk(130), pk(160), pk(190, true), pk(220)], 100).map((p) => p.dts), [130, 160], 'stops before a later keyframe, and past it');
    assert.deepEqual(prefetchable([pk(190, true), pk(220)], 100), [], 'a keyframe first: nothing until it is announced');
    assert.deepEqual(prefetchable([], 100), []);
  });

  it('contiguous parts from part 0, in order, up to the first missing one', () => {
    assert.deepEqual(contiguousParts([{ part: 1 }, { part: 0 }, { part: 2 }]).map((p) => p.part), [0, 1, 2]);
    assert.deepEqual(contiguousParts([{ part: 0 }, { part: 2 }]).map((p) => p.part), [0]);
    assert.deepEqual(contiguousParts([{ part: 1 }]), []);
  });

  it('push batches of at most max packets, each fed through the next batch’s first dts, the last through the given point', () => {
    const packets = [10, 20, 30, 40, 50].map((dts) => ({ dts }));
    assert.deepEqual(pushBatches(packets, 60, 2).map((b) => [b.packets.map((p) => p.dts), b.fedThrough]), [[[10, 20], 30], [[30, 40], 50], [[50], 60]]);
    assert.deepEqual(pushBatches(packets, 60, 8).map((b) => [b.packets.length, b.fedThrough]), [[5, 60]]);
    assert.deepEqual(pushBatches([], 60, 8), [{ packets: [], fedThrough: 60 }], 'nothing new still moves the fed point (the part end)');
  });

  it('an events read blocks up to the next prefetch while prefetching, else for blockMs', () => {
    assert.equal(pollMs({ blockMs: 500, prefetchMs: 25 }), 25);
    assert.equal(pollMs({ blockMs: 10, prefetchMs: 25 }), 10);
    assert.equal(pollMs({ blockMs: 500, prefetchMs: 0 }), 500);
  });
});

describe('rung output: cutting encoded packets into a window', () => {
  const pk = (pts: number, keyframe = false) => ({ pts, keyframe, data: Buffer.from([pts & 0xff]) });

  it('packets before the segment start are dropped, those at or past the end kept for later', () => {
    const { packets, rest } = cutRungPackets([pk(80), pk(100, true), pk(130), pk(160), pk(200)], 190, 100);
    assert.deepEqual(packets.map((p) => [p.pts, p.dts, p.duration, p.keyframe]), [[100, 100, 30, true], [130, 130, 30, false], [160, 160, 30, false]]);
    assert.deepEqual(rest.map((p) => p.pts), [200]);
  });
  it('the last packet lasts until the next one (capped at the window end), or the end when none is buffered', () => {
    assert.deepEqual(cutRungPackets([pk(100), pk(150), pk(400)], 200, 0).packets.map((p) => p.duration), [50, 50]);
    assert.deepEqual(cutRungPackets([pk(100), pk(150)], 200, 0).packets.map((p) => p.duration), [50, 50]);
    assert.deepEqual(cutRungPackets([pk(100), pk(150), pk(180)], 180, 0).packets.map((p) => p.duration), [50, 30]);
  });
  it('a duration is at least one tick; an empty window writes nothing', () => {
    assert.deepEqual(cutRungPackets([pk(199)], 199.5, 0).packets.map((p) => p.duration), [1]);
    assert.deepEqual(cutRungPackets([pk(300)], 200, 0), { packets: [], rest: [pk(300)] });
  });
});

describe('segment result', () => {
  it('a rung result carries a reason and a code only when given', () => {
    assert.deepEqual(rungResult('360p', 'made'), { rung: '360p', action: 'made', mediaSeconds: 0, encodeSeconds: 0, alignmentProblems: [], partDelaysMs: [] });
    assert.deepEqual(rungResult('360p', 'gap', 'too late', 'TRANSCODE_LATE'), { rung: '360p', action: 'gap', reason: 'too late', code: 'TRANSCODE_LATE', mediaSeconds: 0, encodeSeconds: 0, alignmentProblems: [], partDelaysMs: [] });
    assert.deepEqual(segmentJobResult('ch', 3, 'why'), { channel: 'ch', segment: 3, rungs: [], decodeSeconds: 0, note: 'why' });
  });
  it('a rung failing mid-segment is a failed gap keeping what it measured', () => {
    const r = { ...rungResult('360p', 'made'), partDelaysMs: [40] };
    assert.deepEqual(failedRungResult(r, 'boom'), { ...r, action: 'gap', reason: 'boom', code: 'TRANSCODE_SEGMENT_FAILED' });
  });
  it('a made rung: media seconds, encode seconds and the alignment check allowing two frames of tail', () => {
    const timings = Array.from({ length: 50 }, (_, i) => ({ pts: i * 3600, dts: i * 3600, duration: 3600, keyframe: i === 0 }));
    const aligned = madeRungResult(rungResult('360p', 'made'), { startPts: 0, durationPts: 180000, frameRate: [25, 1], timings, encodeSeconds: 0.5 });
    assert.deepEqual([aligned.mediaSeconds, aligned.encodeSeconds, aligned.alignmentProblems], [2, 0.5, []]);
    const late = madeRungResult(rungResult('360p', 'made'), { startPts: 0, durationPts: 180000, frameRate: [25, 1], timings: timings.slice(0, 47), encodeSeconds: 0 });
    assert.match(late.alignmentProblems.join('; '), /ticks before the segment end/);
  });
  it('the dropped-segment label comes from the code', () => {
    assert.deepEqual([droppedReason('TRANSCODE_LATE'), droppedReason('TRANSCODE_ORPHANED'), droppedReason('TRANSCODE_SEGMENT_FAILED'), droppedReason(undefined)], ['late', 'orphaned', 'failed', 'failed']);
  });
  it('each gap of a result is a non-fatal transcoder fault with its reason; made and skipped rungs are none', () => {
    const result = { ...segmentJobResult('ch', 7), rungs: [rungResult('720p', 'made'), rungResult('480p', 'skip', 'already made'), rungResult('360p', 'gap', 'too late: x', 'TRANSCODE_LATE'), rungResult('240p', 'gap', 'odd')] };
    assert.deepEqual(rungFaults(result), [
      { fault: { component: 'transcoder', code: 'TRANSCODE_LATE', fatal: false, message: 'too late: x' }, context: { channel: 'ch', segment: 7, rung: '360p' } },
      { fault: { component: 'transcoder', code: 'TRANSCODE_SEGMENT_FAILED', fatal: false, message: 'odd' }, context: { channel: 'ch', segment: 7, rung: '240p' } },
    ]);
    assert.equal(gapWarning('360p', 7, 'too late: x'), 'rung 360p: segment 7 is a gap (too late: x)');
  });
  it('a failed job is a fatal TRANSCODE_JOB_FAILED naming the cause; a pipeline error keeps its code', () => {
    assert.deepEqual(jobFailureFault(new Error('sandbox exited')), { component: 'transcoder', code: 'TRANSCODE_JOB_FAILED', fatal: true, message: 'transcode job failed: sandbox exited' });
    assert.equal(jobFailureFault(new PipelineError('STORE_OOM')).code, 'STORE_OOM');
  });
});

describe('transcode metrics', () => {
  it('dropped segments are counted under the reason their code gives', async () => {
    const registry = new Registry();
    const metrics = createTranscodeMetrics(registry);
    const result = { ...segmentJobResult('ch', 7), rungs: [
      rungResult('360p', 'gap', 'partly published by a worker that stopped', 'TRANSCODE_ORPHANED'),
      rungResult('240p', 'gap', 'worded differently', 'TRANSCODE_LATE'),
      rungResult('160p', 'gap', 'too late, says the text'),
    ] };
    metrics.observeJob(result, 0.01);
    const values = (await registry.getSingleMetric('beam_transcode_dropped_segments_total')?.get())?.values ?? [];
    assert.deepEqual(values.map((v) => [v.labels.rung, v.labels.reason, v.value]).sort(), [['160p', 'failed', 1], ['240p', 'late', 1], ['360p', 'orphaned', 1]]);
  });

  it('the rung part lag of a made segment: one observation per part, with a bucket at the 0.3 s target', async () => {
    const registry = new Registry();
    const metrics = createTranscodeMetrics(registry);
    metrics.observeJob({ ...segmentJobResult('ch', 7), rungs: [{ ...rungResult('360p', 'made'), partDelaysMs: [20, 40, 280, 450] }, { ...rungResult('240p', 'gap', 'x', 'TRANSCODE_LATE'), partDelaysMs: [10] }] }, 0.01);
    const values = (await registry.getSingleMetric('beam_transcode_part_delay_seconds')?.get())?.values ?? [];
    const count = (values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).find((v) => v.metricName === 'beam_transcode_part_delay_seconds_count' && v.labels.rung === '360p');
    const under = (values as { metricName?: string; labels: Record<string, unknown>; value: number }[]).find((v) => v.metricName === 'beam_transcode_part_delay_seconds_bucket' && v.labels.rung === '360p' && v.labels.le === 0.3);
    assert.equal(count?.value, 4);
    assert.equal(under?.value, 3, 'three of the four parts within 0.3 s');
    assert.equal(values.some((v) => v.labels.rung === '240p'), false, 'a gap observes nothing');
  });
});
