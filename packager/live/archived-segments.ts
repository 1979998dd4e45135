/**
 * Archived segments, streamed. When a segment's packets are one contiguous run of one archived object (the
 * normal case: the archiver cuts the windows the packager cuts; `Store.readArchivedSpan`), the segment is sent as
 * its head (styp + moof + the mdat header, built from the packets' metadata and their CMAF payload sizes) followed
 * by the payloads read from the archive as a stream, each packet converted on its way (Annex-B → length-prefixed,
 * ADTS headers off: `cmafPayloads`), one packet in memory at a time. The bytes are those `buildFragment` makes from
 * the same packets (the same functions lay them out).
 *
 * The CMAF payload sizes depend on the payloads (NAL units dropped, ADTS frames), so the first request of a segment
 * reads its span once to learn them (the plan: head, sizes, ETag), then streams it again; plans (a few KB each)
 * are kept in a small LRU, so later requests and ranges read only the bytes they send. Segments served this way
 * do not enter the segment cache.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ArchivedSpan, Store } from '../../core/store/store';
import { notFound } from '../../core/model/errors';
import { archiveUnavailable } from '../../core/archive/archive-backend';
import { cmafLayout, cmafPayloads } from '../cmaf/prepare';
import { buildFragmentHead } from '../cmaf/segments';
import type { ResolvedTrack } from '../channel-reader';
import { audioWindowComplete, fragmentSequence, sampleTimings } from './fragment-builder';
import { sliceParts } from './byte-range';
import type { StreamedBody } from './live-response';
import type { SampleTiming } from '../cmaf/prepare';
import type { TickWindow } from './windows';

/** A fragment's strong ETag from its head and the SHA-1 of its payload bytes (hot and streamed segments alike). */
export function fragmentEtag(head: Buffer, payloadDigest: Buffer): string {
  return `"${createHash('sha1').update(head).update(payloadDigest).digest('base64url').slice(0, 22)}"`;
}

/** Pure: the length of a built fragment's head (styp + moof + mdat header), read from its box sizes. */
export function fragmentHeadLength(body: Buffer): number {
  let at = 0;
  for (const type of ['styp', 'moof']) {
    if (body.length < at + 8 || body.toString('latin1', at + 4, at + 8) !== type) throw new Error(`fragment: no ${type} box at ${at}`);
    at += body.readUInt32BE(at);
  }
  return at + 8;
}

/** The ETag of a segment built whole (equal to the one its streamed form gets). */
export function builtFragmentEtag(body: Buffer): string {
  const n = fragmentHeadLength(body);
  return fragmentEtag(body.subarray(0, n), createHash('sha1').update(body.subarray(n)).digest());
}

/** Splits a stream of contiguous payloads into one buffer per packet of the given sizes; fails when it is short. */
export async function* packetsOf(src: AsyncIterable<Buffer>, sizes: readonly number[]): AsyncGenerator<Buffer> {
  let i = 0;
  let pending: Buffer[] = [];
  let have = 0;
  const drainEmpty = function* () {
    while (i < sizes.length && sizes[i] === 0 && have === 0) {
      i++;
      yield Buffer.alloc(0);
    }
  };
  yield* drainEmpty();
  for await (const chunk of src) {
    let c = chunk;
    while (c.length > 0 && i < sizes.length) {
      const need = (sizes[i] as number) - have;
      if (c.length < need) {
        pending.push(c);
        have += c.length;
        break;
      }
      pending.push(c.subarray(0, need));
      c = c.subarray(need);
      const whole = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
      pending = [];
      have = 0;
      i++;
      yield whole;
      yield* drainEmpty();
    }
    if (i >= sizes.length) return;
  }
  if (i < sizes.length) throw archiveUnavailable('an archived object holds fewer bytes than its header says');
}

/** What a streamed segment is made of: its head, and per packet its bytes in the object and in the mdat. */
export interface SegmentPlan {
  head: Buffer;
  etag: string;
  length: number;
  timings: SampleTiming[];
  sourceSizes: number[];
  outSizes: number[];
  span: ArchivedSpan;
}

export interface ArchivedSegmentRequest {
  /** Cache key of the object (`<channel>/<file>`). */
  key: string;
  content: string;
  stream: number;
  track: ResolvedTrack;
  window: TickWindow;
  segment: number;
}

export interface ArchivedSegments {
  /** The segment as a streamed body with its ETag, or null when it is not (wholly, contiguously) archived. */
  segment(req: ArchivedSegmentRequest): Promise<{ body: StreamedBody; etag: string } | null>;
  readonly plans: number;
}

export interface ArchivedSegmentsDeps {
  store: Pick<Store, 'readArchivedSpan'>;
  onStreamed?: () => void;
}

/** Reads the plan of a segment: one pass over its span in the archive. Null when it cannot be streamed. */
export async function planSegment(span: ArchivedSpan, track: ResolvedTrack, window: TickWindow, segment: number): Promise<SegmentPlan | null> {
  const video = track.info.kind === 'video';
  // Audio counts as complete when a packet reaches the window's end; otherwise the build path waits for it.
  if (!video && !audioWindowComplete(span.packets, window)) return null;
  const timings = sampleTimings(span.packets, window, video);
  const sourceSizes = span.packets.map((p) => p.size);
  const src = await span.open(span.start, span.end);
  if (!src) return null;
  const digest = createHash('sha1');
  const sizes: { length: number }[][] = [];
  let i = 0;
  for await (const data of packetsOf(src, sourceSizes)) {
    const payloads = cmafPayloads(track.track, { ...(timings[i] as SampleTiming), data }, i);
    for (const p of payloads) digest.update(p);
    sizes.push(payloads.map((p) => ({ length: p.length })));
    i++;
  }
  const head = buildFragmentHead(track.track, cmafLayout(track.info, track.track, timings, sizes), fragmentSequence(segment, null));
  const outSizes = sizes.map((list) => list.reduce((n, p) => n + p.length, 0));
  return { head, etag: fragmentEtag(head, digest.digest()), length: head.length + outSizes.reduce((a, b) => a + b, 0), timings, sourceSizes, outSizes, span };
}

/** The streamed body of a plan: any [start, end) of head ++ converted payloads, reading only the packets it needs. */
export function planBody(plan: SegmentPlan, track: ResolvedTrack, segment: number): StreamedBody {
  return {
    length: plan.length,
    async open(start, end) {
      const pieces = sliceParts([plan.head.length, ...plan.outSizes], start, end);
      const packets = pieces.filter((p) => p.index > 0);
      const first = packets[0]?.index ?? 0;
      const last = packets[packets.length - 1]?.index ?? 0;
      let src: Readable | null = null;
      if (packets.length > 0) {
        const before = plan.sourceSizes.slice(0, first - 1).reduce((a, b) => a + b, 0);
        const bytes = plan.sourceSizes.slice(first - 1, last).reduce((a, b) => a + b, 0);
        src = await plan.span.open(plan.span.start + before, plan.span.start + before + bytes);
        if (!src) throw notFound(`Segment ${segment} has left the archive (expired from the DVR window).`);
      }
      async function* bytes(): AsyncGenerator<Buffer> {
        const h = pieces.find((p) => p.index === 0);
        if (h) yield plan.head.subarray(h.from, h.to);
        if (!src) return;
        let k = 0;
        for await (const data of packetsOf(src, plan.sourceSizes.slice(first - 1, last))) {
          const piece = packets[k] as { index: number; from: number; to: number };
          const i = piece.index - 1;
          const out = cmafPayloads(track.track, { ...(plan.timings[i] as SampleTiming), data }, i);
          const joined = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
          if (joined.length !== plan.outSizes[i]) throw archiveUnavailable('an archived object changed under its segment');
          yield joined.subarray(piece.from, piece.to);
          k++;
        }
      }
      return Readable.from(bytes(), { objectMode: false });
    },
  };
}

export function createArchivedSegments(deps: ArchivedSegmentsDeps, config: { maxPlans: number }): ArchivedSegments {
  const plans = new Map<string, Promise<SegmentPlan | null>>();

  async function planOf(req: ArchivedSegmentRequest): Promise<SegmentPlan | null> {
    const known = plans.get(req.key);
    if (known) {
      plans.delete(req.key);
      plans.set(req.key, known);
      return known;
    }
    const p = (async () => {
      const span = await deps.store.readArchivedSpan(req.content, req.stream, req.window.from, req.window.to);
      return span ? planSegment(span, req.track, req.window, req.segment) : null;
    })();
    plans.set(req.key, p);
    try {
      const plan = await p;
      if (!plan) plans.delete(req.key); // not archived yet: asked again next time
      return plan;
    } catch (err) {
      plans.delete(req.key);
      throw err;
    } finally {
      for (const k of plans.keys()) {
        if (plans.size <= config.maxPlans) break;
        plans.delete(k);
      }
    }
  }

  return {
    async segment(req) {
      const plan = await planOf(req);
      if (!plan) return null;
      deps.onStreamed?.();
      return { body: planBody(plan, req.track, req.segment), etag: plan.etag };
    },
    get plans() {
      return plans.size;
    },
  };
}
