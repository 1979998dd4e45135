/**
 * Pure parsing of the JIT requests:
 *   /beams/<content>/<stream>/frame_<pts>.jpg|.jpeg|.png[?width=N]   a frame at any pts
 *   /beams/<content>/<stream>/latest.jpg|.jpeg|.png[?width=N]        the newest decodable frame
 *   /beams/<content>/all/<from>-<to>.mp4[?accurate=1]                a clip (media_ref range forms)
 */

import { JobError } from '../../engine/jobs/job-types';
import { parseMediaRef, type MediaRef } from '../../engine/model/media-ref';

export type ImageFormat = 'jpeg' | 'png';

export interface ImageRequest {
  content: string;
  stream: string;
  at: { kind: 'latest' } | { kind: 'pts'; pts: number };
  format: ImageFormat;
  /** Requested output width; the height keeps the display aspect. */
  width: number | null;
}

/** Media_ref forms that name a time range. */
export type ClipRange = Extract<MediaRef, { kind: 'ptsRange' | 'secondsRange' | 'indexRange' | 'relative' }>;

export interface ClipRequest {
  content: string;
  range: ClipRange;
  accurate: boolean;
}

export const MIN_WIDTH = 16;
export const MAX_WIDTH = 7680;

const RE_IMAGE = /^\/beams\/([^/]+)\/([^/]+)\/(latest|frame_(0|[1-9][0-9]{0,15}))\.(jpg|jpeg|png)$/;
const RE_CLIP = /^\/beams\/([^/]+)\/all\/([^/]+)\.mp4$/;

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new JobError(400, `Path segment '${part.slice(0, 64)}' is not valid percent-encoding.`);
  }
}

export function parseWidth(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  if (!/^[1-9][0-9]{0,4}$/.test(raw) || Number(raw) < MIN_WIDTH || Number(raw) > MAX_WIDTH) {
    throw new JobError(400, `Query parameter 'width' must be a whole number of pixels from ${MIN_WIDTH} to ${MAX_WIDTH}, not '${raw.slice(0, 16)}'.`);
  }
  return Number(raw);
}

export function parseImageRequest(path: string, query: Record<string, string>): ImageRequest {
  const m = RE_IMAGE.exec(path);
  if (!m) throw new JobError(400, `Path '${path.slice(0, 100)}' is not an image request: expected /beams/<content>/<stream>/frame_<pts>.jpg|.jpeg|.png or …/latest.jpg.`);
  const pts = m[4] === undefined ? null : Number(m[4]);
  if (pts !== null && !Number.isSafeInteger(pts)) throw new JobError(400, `frame_${m[4]} is beyond the largest supported timestamp.`);
  return {
    content: decode(m[1] as string),
    stream: decode(m[2] as string),
    at: pts === null ? { kind: 'latest' } : { kind: 'pts', pts },
    format: m[5] === 'png' ? 'png' : 'jpeg',
    width: parseWidth(query.width),
  };
}

export function parseClipRequest(path: string, query: Record<string, string>): ClipRequest {
  const m = RE_CLIP.exec(path);
  if (!m) throw new JobError(400, `Path '${path.slice(0, 100)}' is not a clip request: expected /beams/<content>/all/<from>-<to>.mp4.`);
  let ref: MediaRef;
  try {
    ref = parseMediaRef(decode(m[2] as string));
  } catch (e) {
    throw new JobError(400, (e as Error).message);
  }
  if (ref.kind !== 'ptsRange' && ref.kind !== 'secondsRange' && ref.kind !== 'indexRange' && ref.kind !== 'relative') {
    throw new JobError(400, `A clip needs a time range such as <pts>-<pts>, <s>s-<s>s, <N>th-<M>th or <pts>+<N>d, not '${(m[2] as string).slice(0, 64)}'.`);
  }
  const acc = query.accurate;
  if (acc !== undefined && !/^(0|1|true|false)$/.test(acc)) throw new JobError(400, `Query parameter 'accurate' must be 1 or 0, not '${acc.slice(0, 16)}'.`);
  return { content: decode(m[1] as string), range: ref, accurate: acc === '1' || acc === 'true' };
}

/**
 * Output size of an image: the source size, or `width` with the height that keeps the display aspect
 * (sample aspect ratio applied), both even (4:2:0 chroma).
 */
export function outputSize(srcW: number, srcH: number, sar: [number, number] | undefined, width: number | null): { width: number; height: number } {
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  if (width === null) return { width: even(srcW), height: even(srcH) };
  const ratio = sar && sar[0] > 0 && sar[1] > 0 ? sar[0] / sar[1] : 1;
  const displayW = srcW * ratio;
  return { width: even(width), height: even((srcH * width) / displayW) };
}
