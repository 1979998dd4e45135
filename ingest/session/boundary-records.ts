/**
 * Pure: what the segmenter's boundary events become in the store — segment and part records and the
 * channel's events — with the open segments and the discontinuity count carried from one batch to the next.
 */

import type { ChannelEvent, PartRecord, SegmentRecord } from '../../core/model/live';
import type { SegmenterEvent } from '../segmenter';

export interface BoundaryBook {
  /** Segments opened and not closed yet (their opening record, to complete at close). */
  readonly open: ReadonlyMap<number, SegmentRecord>;
  readonly discontinuitySequence: number;
}

export interface BoundaryWrite {
  segments: SegmentRecord[];
  parts: PartRecord[];
  events: ChannelEvent[];
  /** Segmenter warnings, in order (also among `events`). */
  warnings: string[];
  /** Indexes of the segments opened (the transcoders' queue is told of them once written). */
  opened: number[];
  /** End (pts) of the last part announced, null when none was. */
  lastPartEnd: number | null;
}

export function createBoundaryBook(discontinuitySequence: number): BoundaryBook {
  return { open: new Map(), discontinuitySequence };
}

/**
 * One batch of boundary events as store records. A closed segment's record takes the wall clock the segmenter
 * closed it with (final: an epoch's first segment opens with its first frame's arrival and closes with the
 * anchor its frames settled).
 */
export function boundaryRecords(book: BoundaryBook, evs: readonly SegmenterEvent[]): { book: BoundaryBook; write: BoundaryWrite } {
  const open = new Map(book.open);
  let discontinuitySequence = book.discontinuitySequence;
  const write: BoundaryWrite = { segments: [], parts: [], events: [], warnings: [], opened: [], lastPartEnd: null };
  for (const e of evs) {
    if (e.type === 'segment:opened') {
      if (e.discontinuity) discontinuitySequence++;
      const rec: SegmentRecord = { index: e.index, startPts: e.startPts, startDts: e.startDts, durationPts: null, wallClockMs: e.wallClockMs, discontinuity: e.discontinuity, discontinuitySequence };
      open.set(e.index, rec);
      write.segments.push(rec);
      write.opened.push(e.index);
      write.events.push({ type: 'segment:opened', segment: e.index, startPts: e.startPts, wallClockMs: e.wallClockMs, discontinuity: e.discontinuity });
    } else if (e.type === 'part:ready') {
      write.parts.push({ segment: e.segmentIndex, part: e.partIndex, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent });
      write.lastPartEnd = e.startPts + e.durationPts;
      write.events.push({ type: 'part:ready', segment: e.segmentIndex, part: e.partIndex, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent });
    } else if (e.type === 'segment:closed') {
      const rec = open.get(e.index);
      open.delete(e.index);
      write.segments.push({
        index: e.index, startPts: e.startPts, startDts: rec?.startDts ?? e.startPts, durationPts: e.durationPts,
        wallClockMs: e.wallClockMs, discontinuity: rec?.discontinuity ?? false, discontinuitySequence: rec?.discontinuitySequence ?? discontinuitySequence,
      });
      write.events.push({ type: 'segment:closed', segment: e.index, startPts: e.startPts, durationPts: e.durationPts });
    } else {
      write.events.push({ type: 'warning', message: e.message });
      write.warnings.push(e.message);
    }
  }
  return { book: { open, discontinuitySequence }, write };
}
