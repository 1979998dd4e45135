/** The live sliding window: keep the newest segments, advancing the sequence numbers. */
import { badRenderInput } from '../errors';
import type { HlsMediaPlaylist } from './model';

/**
 * Keeps at most `maxSegments` segments. MEDIA-SEQUENCE advances by the segments dropped and
 * DISCONTINUITY-SEQUENCE by the discontinuities dropped with them; an init segment announced
 * by a dropped segment becomes the playlist's EXT-X-MAP.
 */
export function slideWindow(p: HlsMediaPlaylist, maxSegments: number): HlsMediaPlaylist {
  if (!Number.isInteger(maxSegments) || maxSegments < 1) throw badRenderInput(`HLS: window of ${maxSegments} segments`);
  const drop = Math.max(0, p.segments.length - maxSegments);
  if (drop === 0) return p;
  const dropped = p.segments.slice(0, drop);
  let map = p.map;
  for (const s of dropped) if (s.map !== undefined) map = s.map;
  const out: HlsMediaPlaylist = {
    ...p,
    mediaSequence: p.mediaSequence + drop,
    discontinuitySequence: (p.discontinuitySequence ?? 0) + dropped.filter((s) => s.discontinuity).length,
    segments: p.segments.slice(drop),
  };
  if (map !== undefined) out.map = map;
  return out;
}
