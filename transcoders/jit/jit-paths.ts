/**
 * Pure parsing of the JIT requests:
 *   /beams/<content>/<stream>/frame_<pts>.jpg|.jpeg|.png[?width=N]   a frame at any pts
 *   /beams/<content>/<stream>/latest.jpg|.jpeg|.png[?width=N]        the newest decodable frame
 *   /beams/<content>/all/<from>-<to>.mp4[?accurate=1]                a clip (media_ref range forms)
 */

import { JobError } from '../../engine/jobs/job-types';
import type { RequestIdentity, RequestNormalizer } from '../../engine/jobs/job-identity';
import { parseMediaRef, type MediaRef } from '../../core/model/media-ref';
import { parseStreamName } from '../../core/model/stream-name';
import { JIT_QUEUE } from '../../core/store/keys';

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
/** Largest image a request may make: 3840×2160 (UHD). Wider requests, and heights beyond, answer 400. */
export const MAX_WIDTH = 3840;
export const MAX_HEIGHT = 2160;

/** The queue the built-in JIT functions run on (the default rules `frameImage` and `clipMp4`). */
export { JIT_QUEUE };

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
    throw new JobError(400, `Query parameter 'width' must be a whole number of pixels from ${MIN_WIDTH} to ${MAX_WIDTH} (the image size limit is ${MAX_WIDTH}×${MAX_HEIGHT}), not '${raw.slice(0, 16)}'.`);
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
 * Pure: the output size of an image. Without `width`: the source's stored size, scaled down (aspect kept)
 * to fit MAX_WIDTH×MAX_HEIGHT (3840×2160). With `width`: that width and the height that keeps the display aspect
 * (sample aspect ratio applied). Both even (4:2:0 chroma). A width beyond the source's or beyond
 * MAX_WIDTH, or a resulting height beyond MAX_HEIGHT, throws a 400 JobError naming the limit: upscaling
 * buys nothing, and a tall sample aspect ratio would otherwise make a 1024-wide request 36,864 px high.
 */
export function outputSize(srcW: number, srcH: number, sar: [number, number] | undefined, width: number | null): { width: number; height: number } {
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  if (!(srcW > 0 && srcH > 0)) throw new JobError(422, `The source frame has no usable size (${srcW}×${srcH}).`);
  if (width === null) {
    const fit = Math.min(1, MAX_WIDTH / srcW, MAX_HEIGHT / srcH);
    return { width: Math.min(MAX_WIDTH, even(srcW * fit)), height: Math.min(MAX_HEIGHT, even(srcH * fit)) };
  }
  if (width > MAX_WIDTH) throw new JobError(400, `Query parameter 'width' is ${width}: images are limited to ${MAX_WIDTH}×${MAX_HEIGHT}.`);
  if (width > srcW) throw new JobError(400, `Query parameter 'width' is ${width}: the source is ${srcW} px wide and images are never scaled beyond it.`);
  const ratio = sar && sar[0] > 0 && sar[1] > 0 ? sar[0] / sar[1] : 1;
  const height = even((srcH * width) / (srcW * ratio));
  if (height > MAX_HEIGHT) {
    throw new JobError(400, `An image ${width} px wide of this source would be ${height} px high (sample aspect ratio ${sar?.[0]}:${sar?.[1]}): images are limited to ${MAX_WIDTH}×${MAX_HEIGHT}; ask for a smaller width.`);
  }
  return { width: even(width), height };
}

/** A sample aspect ratio from stored codec parameters (`[num, den]` or `{num, den}`), or undefined. */
export function sarOf(v: unknown): [number, number] | undefined {
  if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'number') return [v[0], v[1]];
  const o = v as { num?: unknown; den?: unknown } | null;
  if (o && typeof o.num === 'number' && typeof o.den === 'number') return [o.num, o.den];
  return undefined;
}

function streamIdentity(stream: string): unknown {
  try {
    return parseStreamName(stream);
  } catch (e) {
    throw new JobError(400, (e as Error).message);
  }
}

/**
 * Pure: the identity of an image request, from what was parsed (content, stream, pts or latest, format,
 * width), and the only query it keeps. `.jpg` and `.jpeg`, `video` and `stream_0`… each name one job, and
 * other query parameters (cache-busters such as `?t=…`) are dropped.
 */
export const imageIdentity: RequestNormalizer = (path, query): RequestIdentity => {
  const r = parseImageRequest(path, query);
  return { key: JSON.stringify(['image', r.content, streamIdentity(r.stream), r.at, r.format, r.width]), query: r.width === null ? {} : { width: String(r.width) } };
};

/** Pure: the identity of a clip request (content, range, accurate) and the only query it keeps. */
export const clipIdentity: RequestNormalizer = (path, query): RequestIdentity => {
  const r = parseClipRequest(path, query);
  return { key: JSON.stringify(['clip', r.content, r.range, r.accurate]), query: r.accurate ? { accurate: '1' } : {} };
};

/** The request normalizers of the built-in functions, by `queue/function` (for the dispatcher's deps). */
export function jitNormalizers(queue: string = JIT_QUEUE): Record<string, RequestNormalizer> {
  return { [`${queue}/frameImage`]: imageIdentity, [`${queue}/clipMp4`]: clipIdentity };
}
