/**
 * Pure: what a rung's libx264 encoder, the scaling filter graph and the frame-rate thinning look like.
 * Low-latency settings throughout: `tune=zerolatency` (no lookahead, sliced threads, so a frame in is a
 * packet out), no B-frames (rung packets have dts == pts), CBR-ish VBV from the rung's bitrates, no scene-cut
 * keyframes and closed GOPs. A fresh encoder per segment makes every rung segment start with an IDR.
 */

import type { Rational } from '../core/model/media';
import { TIMELINE_HZ } from '../core/model/live';
import type { PlannedRung } from './ladder';
import type { AvEncoderOptions } from './av-codec';

export interface EncoderConfig {
  /** x264 preset. `veryfast` by default: see the report in test/bench/transcode-bench.ts. */
  preset: string;
  /** x264 threads per rung encoder; 0 = x264's own choice. */
  threads: number;
  /** Longest keyframe interval inside a segment, seconds (the segment start is always an IDR). */
  maxKeyframeSeconds: number;
}

export const DEFAULT_ENCODER_CONFIG: EncoderConfig = { preset: 'veryfast', threads: 0, maxKeyframeSeconds: 10 };

export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;

/**
 * The encoder options for one rung: the codec addon's AVCodecContext fields and libx264's private options
 * (av-codec.ts), narrowed to what a rung always sets.
 */
export interface X264Options extends AvEncoderOptions {
  name: 'libx264';
  pix_fmt: 'yuv420p';
  max_b_frames: 0;
  flags: { GLOBAL_HEADER: true };
  priv_data: { preset: string; tune: 'zerolatency'; profile: string; 'x264-params': string };
}

/** The rung's peak bitrate: its maxBitrate, else 110 % of its average. */
export function maxRateOf(rung: Pick<PlannedRung, 'videoBitrate' | 'maxBitrate'>): number {
  return rung.maxBitrate ?? Math.round(rung.videoBitrate * 1.1);
}

/** The rung's H.264 profile: its own, else high from 720 lines up and main below. */
export function profileOf(rung: Pick<PlannedRung, 'profile' | 'outHeight'>): string {
  return rung.profile ?? (rung.outHeight >= 720 ? 'high' : 'main');
}

/** The rung's output frame rate: the source's, or the rung's `fps` when that is lower. */
export function rungFrameRate(sourceFps: Rational, rungFps: number | undefined): Rational {
  const src = sourceFps[0] / sourceFps[1];
  if (rungFps === undefined || rungFps >= src) return sourceFps;
  return Number.isInteger(rungFps) ? [rungFps, 1] : [Math.round(rungFps * 1000), 1000];
}

export function x264Options(rung: PlannedRung, sourceFps: Rational, config: EncoderConfig): X264Options {
  if (!(X264_PRESETS as readonly string[]).includes(config.preset)) {
    throw new Error(`transcoder preset '${config.preset}' is not an x264 preset (${X264_PRESETS.join(', ')})`);
  }
  const framerate = rungFrameRate(sourceFps, rung.fps);
  const maxRate = maxRateOf(rung);
  const fps = framerate[0] / framerate[1];
  return {
    name: 'libx264',
    width: rung.outWidth,
    height: rung.outHeight,
    pix_fmt: 'yuv420p',
    time_base: [1, TIMELINE_HZ],
    framerate,
    sample_aspect_ratio: [1, 1],
    bit_rate: rung.videoBitrate,
    rc_max_rate: maxRate,
    // One second of buffer at the peak rate: CBR-ish, and a part never carries much more than its share.
    rc_buffer_size: maxRate,
    gop_size: Math.max(1, Math.round(fps * config.maxKeyframeSeconds)),
    max_b_frames: 0,
    thread_count: config.threads,
    flags: { GLOBAL_HEADER: true },
    priv_data: { preset: config.preset, tune: 'zerolatency', profile: profileOf(rung), 'x264-params': 'scenecut=0:open-gop=0:bframes=0' },
  };
}

/** The same settings as ffmpeg command-line options for one output (the bench's reference). */
export function x264CliArgs(o: X264Options): string[] {
  return [
    '-c:v', 'libx264', '-preset', o.priv_data.preset, '-tune', 'zerolatency', '-profile:v', o.priv_data.profile,
    '-b:v', String(o.bit_rate), '-maxrate', String(o.rc_max_rate), '-bufsize', String(o.rc_buffer_size),
    '-g', String(o.gop_size), '-bf', '0', '-x264-params', o.priv_data['x264-params'], '-pix_fmt', 'yuv420p',
    ...(o.thread_count > 0 ? ['-threads', String(o.thread_count)] : []),
  ];
}

/** Filter graph output name of rung i. */
export function outputName(i: number): string {
  return `out${i}:v`;
}

export const FILTER_INPUT = 'in0:v';

/** One decode scaled to every rung: `split` then one `scale` per output (bicubic, as ffmpeg's default). */
export function scaleGraph(rungs: readonly Pick<PlannedRung, 'outWidth' | 'outHeight'>[]): string {
  if (rungs.length === 0) throw new Error('a scale graph needs at least one rung');
  const scale = (r: Pick<PlannedRung, 'outWidth' | 'outHeight'>) => `scale=${r.outWidth}:${r.outHeight}:flags=bicubic,setsar=1`;
  if (rungs.length === 1) return `[${FILTER_INPUT}]${scale(rungs[0] as PlannedRung)}[${outputName(0)}]`;
  const taps = rungs.map((_, i) => `[s${i}]`).join('');
  return [`[${FILTER_INPUT}]split=${rungs.length}${taps}`, ...rungs.map((r, i) => `[s${i}]${scale(r)}[${outputName(i)}]`)].join(';');
}

/**
 * Frame-rate thinning for a rung with a lower `fps` than the source: frames fall into slots of 1/fps from
 * the segment start and the first frame of each slot is kept. The segment's first frame is always kept.
 * Returns the slot of a frame to keep, or null to drop it.
 */
export function keepFrame(pts: number, segmentStartPts: number, lastSlot: number | null, framerate: Rational | null): number | null {
  if (framerate === null) return (lastSlot ?? -1) + 1;
  const slotTicks = (TIMELINE_HZ * framerate[1]) / framerate[0];
  const slot = Math.floor((pts - segmentStartPts) / slotTicks + 1e-9);
  if (lastSlot !== null && slot <= lastSlot) return null;
  return slot;
}

/**
 * Pure: whether a rung's frame is to be encoded as a keyframe (given to libx264 as an 'I' picture, which it makes
 * an IDR), and whether one is still due after it. Every source keyframe makes one, so a rung has a keyframe
 * wherever the source has one and its LL-HLS parts are independent exactly where the source's are (the packager
 * says so). A thinned rung may drop the source's keyframe: its next kept frame, in the same part, takes its place.
 */
export function keyframeCarry(due: boolean, sourceKey: boolean, kept: boolean): { forceKey: boolean; due: boolean } {
  if (!kept) return { forceKey: false, due: due || sourceKey };
  return { forceKey: due || sourceKey, due: false };
}

/** The source's frame rate from its stream (avg, then r), or `fallback`. */
export function sourceFrameRate(stream: { avg_frame_rate?: Rational; r_frame_rate?: Rational }, fallback: Rational = [30, 1]): Rational {
  for (const r of [stream.avg_frame_rate, stream.r_frame_rate]) {
    if (r && r[0] > 0 && r[1] > 0 && r[0] / r[1] <= 240) return r;
  }
  return fallback;
}
