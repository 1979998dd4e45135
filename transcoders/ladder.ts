/**
 * Pure ABR ladder model: validation of a channel's rungs with errors naming the rung and field, the
 * default ladder, and planning against a source (never upscale, keep the source's aspect ratio).
 * The passthrough `source` rung is always there and is not listed.
 */

import { BeamError } from '../core/model/errors';
import type { Rung } from '../core/model/channel';
import { isObject } from '../core/model/json';

export const DEFAULT_LADDER: Rung[] = [
  { name: '720p', width: 1280, height: 720, videoBitrate: 3_000_000, maxBitrate: 3_300_000, profile: 'high' },
  { name: '480p', width: 854, height: 480, videoBitrate: 1_200_000, maxBitrate: 1_320_000, profile: 'main' },
  { name: '360p', width: 640, height: 360, videoBitrate: 800_000, maxBitrate: 880_000, profile: 'main' },
];

export const PROFILES = ['baseline', 'main', 'high'] as const;
const MAX_RUNGS = 8;

/** Validate a ladder from the channel API. Throws a 400 naming `ladder[i] (name).field`. */
export function validateLadder(raw: unknown): Rung[] {
  const fail = (where: string, why: string) => new BeamError('BEAM_ERR_BAD_REQUEST', `Invalid ladder: ${where} ${why}.`);
  if (!Array.isArray(raw)) throw fail('ladder', 'must be an array of rungs {name, width, height, videoBitrate, maxBitrate?, profile?, fps?}');
  if (raw.length > MAX_RUNGS) throw fail('ladder', `has ${raw.length} rungs; at most ${MAX_RUNGS} besides the source`);
  const names = new Set<string>();
  return raw.map((r, i): Rung => {
    const label = isObject(r) && typeof r.name === 'string' ? `ladder[${i}] (${r.name})` : `ladder[${i}]`;
    if (!isObject(r)) throw fail(label, 'must be an object');
    const known = ['name', 'width', 'height', 'videoBitrate', 'maxBitrate', 'profile', 'fps'];
    const extra = Object.keys(r).filter((k) => !known.includes(k));
    if (extra.length) throw fail(label, `has unknown field(s) ${extra.join(', ')}`);
    if (typeof r.name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(r.name)) throw fail(`${label}.name`, 'must be 1-32 lowercase letters, digits, _ or -');
    if (r.name === 'source') throw fail(`${label}.name`, "must not be 'source': the passthrough source rung is always there");
    if (names.has(r.name)) throw fail(`${label}.name`, 'is used twice');
    names.add(r.name);
    const evenInt = (f: 'width' | 'height', max: number) => {
      const v = r[f];
      if (!Number.isSafeInteger(v) || (v as number) < 16 || (v as number) > max || (v as number) % 2 !== 0) throw fail(`${label}.${f}`, `must be an even whole number from 16 to ${max}`);
      return v as number;
    };
    const width = evenInt('width', 7680);
    const height = evenInt('height', 4320);
    const vb = r.videoBitrate;
    if (!Number.isSafeInteger(vb) || (vb as number) < 50_000 || (vb as number) > 100_000_000) throw fail(`${label}.videoBitrate`, 'must be bits per second from 50000 to 100000000');
    const rung: Rung = { name: r.name, width, height, videoBitrate: vb as number };
    if (r.maxBitrate !== undefined) {
      if (!Number.isSafeInteger(r.maxBitrate) || (r.maxBitrate as number) < (vb as number)) throw fail(`${label}.maxBitrate`, 'must be bits per second, at least videoBitrate');
      rung.maxBitrate = r.maxBitrate as number;
    }
    if (r.profile !== undefined) {
      if (!(PROFILES as readonly unknown[]).includes(r.profile)) throw fail(`${label}.profile`, `must be one of ${PROFILES.join(', ')}`);
      rung.profile = r.profile as string;
    }
    if (r.fps !== undefined) {
      if (typeof r.fps !== 'number' || !(r.fps > 0 && r.fps <= 120)) throw fail(`${label}.fps`, 'must be a frame rate above 0 and at most 120');
      rung.fps = r.fps;
    }
    return rung;
  });
}

export interface PlannedRung extends Rung {
  /** Output size after keeping the source's aspect ratio (height is the rung's; width follows). */
  outWidth: number;
  outHeight: number;
}

/** Rungs to make for a source: those not above the source's size, with the source's aspect ratio. */
export function planLadder(ladder: readonly Rung[], sourceWidth: number, sourceHeight: number): PlannedRung[] {
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  return ladder
    .filter((r) => r.height < sourceHeight || (r.height === sourceHeight && r.width < sourceWidth))
    .map((r) => {
      const outHeight = r.height;
      const outWidth = Math.min(even((outHeight * sourceWidth) / sourceHeight), sourceWidth);
      return { ...r, outWidth, outHeight };
    })
    .sort((a, b) => b.outHeight - a.outHeight || b.videoBitrate - a.videoBitrate);
}
