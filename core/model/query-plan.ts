/**
 * Pure: turn a parsed media_ref into an index query on one stream (see store IndexQuery).
 * Ordinal indexes are 1-based in the API and 0-based ranks in the index.
 */

import type { Stream } from './media';
import { secondsRangeToPts, secondsToPts, type MediaRef, type Ordinal } from './media-ref';

/** A query on a stream's index; core/store/lua/queryIndex-2.lua gives each mode's semantics. */
export type IndexQuery =
  | { mode: 'score'; min: number | '-inf'; max: number | '+inf'; offset: number; limit: number }
  | { mode: 'rank'; from: number; to: number; offset: number; limit: number }
  | { mode: 'near'; pts: number }
  | { mode: 'nearFrom'; pts: number; max: number; offset: number; limit: number }
  | { mode: 'atOrBefore'; pts: number }
  | { mode: 'covering'; pts: number }
  | { mode: 'after'; pts: number; n: number }
  | { mode: 'before'; pts: number; n: number };

export interface Paging {
  offset: number;
  limit: number;
}

function rankOf(o: Ordinal): number {
  if (o.kind === 'first') return 0;
  if (o.kind === 'last') return -1;
  return o.n - 1;
}

/** A query for every media_ref form that the index answers (not direct elements). */
export function planQuery(ref: Exclude<MediaRef, { kind: 'direct' }>, stream: Stream, paging: Paging): IndexQuery {
  const { offset, limit } = paging;
  switch (ref.kind) {
    case 'pts':
      return { mode: 'score', min: ref.pts, max: ref.pts, offset, limit };
    case 'fuzzy':
      return { mode: 'near', pts: ref.pts };
    case 'ptsRange':
      return { mode: 'score', min: ref.from, max: ref.to, offset, limit };
    case 'fuzzyRange':
      return { mode: 'nearFrom', pts: ref.from, max: ref.to, offset, limit };
    case 'index': {
      const r = rankOf(ref.at);
      return { mode: 'rank', from: r, to: r, offset: 0, limit: 1 };
    }
    case 'indexRange':
      return { mode: 'rank', from: rankOf(ref.from), to: rankOf(ref.to), offset, limit };
    case 'seconds':
      // The element presented at that time: at or before it, and 404 past the end of the stream.
      return { mode: 'covering', pts: Math.floor(secondsToPts(ref.seconds, stream.time_base) + 1e-6) };
    case 'secondsRange': {
      const [min, max] = secondsRangeToPts(ref.from, ref.to, stream.time_base);
      return { mode: 'score', min, max, offset, limit };
    }
    case 'relative':
      if (ref.offset === 0) return { mode: 'score', min: ref.pts, max: ref.pts, offset: 0, limit: 1 };
      return ref.offset > 0 ? { mode: 'after', pts: ref.pts, n: ref.offset } : { mode: 'before', pts: ref.pts, n: -ref.offset };
    case 'redirect':
      return ref.to === 'start' ? { mode: 'rank', from: 0, to: 0, offset: 0, limit: 1 } : { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 };
  }
}
