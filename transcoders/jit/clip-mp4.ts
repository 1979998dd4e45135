/**
 * Clip export: the channel's video and audio between two times as a playable, faststart MP4.
 * Default: remux from the keyframe at or before `from` to `to` without re-encoding (the clip may start up
 * to one GOP early). Accurate: the video is decoded from that keyframe and re-encoded (libx264) for exactly
 * the frames in [from, to]; audio is copied for the same window. The MP4 is written to a private temp
 * file (faststart moves the moov box to the front in a second pass), read back and removed.
 */

import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '../../engine/jobs/job-types';
import type { Format, PacketMeta, Stream } from '../../core/model/media';
import { secondsRangeToPts } from '../../core/model/media-ref';
import type { PacketRead, Store } from '../../core/store/store';
import { audioSpecificConfig, isAdts, parseAdts, stripAdts, ADTS_RATES } from './adts';
import { makePacket, packetBytes, type Beamcoder, type BcEncoder, type BcFrame, type BcMuxStream, type BcPacket } from './beamcoder-api';
import { DECODE_BATCH, extradataOf, keyframeAtOrBefore, openDecoder, storedPacket } from './frame-image';
import type { ClipRange } from './jit-paths';
import { TIMELINE_HZ } from '../../core/model/live';

export interface ClipOptions {
  accurate: boolean;
  /** Longest clip, seconds. */
  maxSeconds: number;
}

interface Timed {
  pts: number;
  dts: number;
  data: Buffer;
  key: boolean;
  duration: number;
}

/** Resolve a media_ref range to inclusive pts bounds on the video stream. */
export async function resolveRange(store: Store, name: string, video: Stream, range: ClipRange): Promise<[number, number]> {
  switch (range.kind) {
    case 'ptsRange':
      return [range.from, range.to];
    case 'secondsRange':
      return secondsRangeToPts(range.from, range.to, video.time_base);
    case 'indexRange': {
      const rank = (o: typeof range.from) => (o.kind === 'first' ? 0 : o.kind === 'last' ? -1 : o.n - 1);
      const [a, b] = await Promise.all([rank(range.from), rank(range.to)].map((r) => store.query(name, video.index, { mode: 'rank', from: r, to: r, offset: 0, limit: 1 })));
      if (!a?.[0] || !b?.[0]) throw new JobError(404, `The index range does not exist in the video of '${name}'.`);
      return [a[0].meta.pts, b[0].meta.pts];
    }
    case 'relative': {
      const found = await store.query(name, video.index, range.offset > 0 ? { mode: 'after', pts: range.pts, n: range.offset } : { mode: 'before', pts: range.pts, n: -range.offset });
      if (found.length === 0) throw new JobError(404, `No video packets around pts ${range.pts} in '${name}'.`);
      const pts = found.map((e) => e.meta.pts).concat(range.pts);
      return [Math.min(...pts), Math.max(...pts)];
    }
  }
}

function toTimed(p: PacketRead): Timed {
  return { pts: p.meta.pts, dts: p.meta.dts, data: p.data, key: p.meta.flags?.KEY === true, duration: p.meta.duration ?? 0 };
}

/** Audio parameters and payloads ready for MP4: ADTS headers stripped and an AudioSpecificConfig made. */
function prepareAudio(stream: Stream, packets: Timed[]): { extradata: Buffer | null; packets: Timed[]; sampleRate: number; channels: number } {
  let extradata = extradataOf(stream);
  let sampleRate = Number(stream.codecpar.sample_rate) || 48000;
  let channels = Number(stream.codecpar.channels) || 2;
  const first = packets[0];
  if (first && isAdts(first.data)) {
    const h = parseAdts(first.data);
    if (h) {
      extradata ??= audioSpecificConfig(h);
      sampleRate = ADTS_RATES[h.frequencyIndex] ?? sampleRate;
      channels = h.channelConfig || channels;
    }
    packets = packets.map((p) => ({ ...p, data: stripAdts(p.data) }));
  }
  return { extradata, packets, sampleRate, channels };
}

function rescale(v: number, tb: [number, number]): number {
  return Math.round((v * tb[1]) / (TIMELINE_HZ * tb[0]));
}

/** How an accurate clip was made: frames decoded and encoded, and the most decoded frames held at once. */
export interface ClipStats {
  accurate: boolean;
  decoded: number;
  encoded: number;
  maxFramesHeld: number;
}

/**
 * Re-encode the video frames with from <= pts <= to (decoded from the keyframe before `from`), encoding
 * while decoding: each decoder batch's frames go to the encoder at once, so the decoded frames held never
 * exceed one batch's output, whatever the clip's length. The decoder gives frames in presentation order.
 */
async function reencode(bc: Beamcoder, video: Stream, packets: PacketRead[], from: number, to: number, stats: ClipStats): Promise<{ packets: Timed[]; extradata: Buffer | null; width: number; height: number }> {
  const decoder = openDecoder(bc, video);
  const fr = video.avg_frame_rate && video.avg_frame_rate[0] > 0 ? video.avg_frame_rate : [25, 1];
  let encoder: BcEncoder | null = null;
  let size = { width: 0, height: 0 };
  const out: Timed[] = [];
  const keep = (ps: BcPacket[]) => {
    // The encoder's packets carry the timestamps of the frames it was given (each frame has a pts).
    for (const p of ps) out.push({ pts: p.pts as number, dts: p.dts as number, data: Buffer.from(packetBytes(p)), key: p.flags.KEY, duration: p.duration as number });
  };
  const feed = async (frames: BcFrame[]) => {
    stats.decoded += frames.length;
    stats.maxFramesHeld = Math.max(stats.maxFramesHeld, frames.length);
    const wanted = frames.filter((f) => f.pts >= from && f.pts <= to);
    if (wanted.length === 0) return;
    const f0 = wanted[0] as BcFrame;
    if (!encoder) {
      size = { width: f0.width, height: f0.height };
      encoder = bc.encoder({
        name: 'libx264', width: f0.width, height: f0.height, pix_fmt: f0.format === 'yuvj420p' ? 'yuvj420p' : 'yuv420p',
        time_base: [1, TIMELINE_HZ], framerate: fr, gop_size: 250, max_b_frames: 0, flags: { GLOBAL_HEADER: true },
        priv_data: { preset: 'veryfast', crf: 18 },
      });
    }
    if (wanted.some((f) => f.width !== size.width || f.height !== size.height)) {
      throw new JobError(422, `The video changes size within the clip (${size.width}×${size.height} to ${f0.width}×${f0.height}): ask for an accurate clip on one side of the change.`);
    }
    for (const f of wanted) f.pict_type = null;
    keep((await encoder.encode(wanted)).packets);
    stats.encoded += wanted.length;
  };
  for (let i = 0; i < packets.length; i += DECODE_BATCH) {
    await feed((await decoder.decode(packets.slice(i, i + DECODE_BATCH).map((p) => storedPacket(bc, p)))).frames);
  }
  await feed((await decoder.flush()).frames);
  const enc = encoder as BcEncoder | null;
  if (!enc) throw new JobError(404, `No video frames between pts ${from} and ${to}.`);
  keep((await enc.flush()).packets);
  return { packets: out, extradata: enc.extradata, ...size };
}

/** Mux video (+ audio) packets on the 90 kHz timeline into a faststart MP4 file and return its bytes. */
async function muxMp4(bc: Beamcoder, v: { stream: Stream; packets: Timed[]; extradata: Buffer | null; width: number; height: number }, a: ReturnType<typeof prepareAudio> | null): Promise<Buffer> {
  const file = join(tmpdir(), `beamline-clip-${randomUUID()}.mp4`);
  const muxer = bc.muxer({ format_name: 'mp4' });
  let opened = false;
  try {
    const vs: BcMuxStream = muxer.newStream({ name: v.stream.codecpar.name ?? 'h264', time_base: [1, TIMELINE_HZ], interleaved: true });
    Object.assign(vs.codecpar, { width: v.width, height: v.height, format: 'yuv420p', ...(v.extradata ? { extradata: v.extradata } : {}) });
    let as: BcMuxStream | null = null;
    if (a && a.packets.length > 0) {
      as = muxer.newStream({ name: 'aac', time_base: [1, TIMELINE_HZ], interleaved: true });
      Object.assign(as.codecpar, { sample_rate: a.sampleRate, channels: a.channels, channel_layout: a.channels === 1 ? 'mono' : 'stereo', format: 'fltp', frame_size: 1024, ...(a.extradata ? { extradata: a.extradata } : {}) });
    }
    await muxer.openIO({ url: `file:${file}` });
    opened = true;
    await muxer.writeHeader({ options: { movflags: 'faststart' } });
    const base = Math.min(v.packets[0]?.dts ?? 0, a?.packets[0]?.pts ?? Infinity);
    const queue: { at: number; s: BcMuxStream; p: Timed }[] = [
      ...v.packets.map((p) => ({ at: p.dts, s: vs, p })),
      ...(as && a ? a.packets.map((p) => ({ at: p.dts, s: as as BcMuxStream, p })) : []),
    ].sort((x, y) => x.at - y.at);
    const lastDts = new Map<number, number>();
    for (const { s, p } of queue) {
      let dts = rescale(p.dts - base, s.time_base);
      const prev = lastDts.get(s.index);
      if (prev !== undefined && dts <= prev) dts = prev + 1;
      lastDts.set(s.index, dts);
      const pts = Math.max(dts, rescale(p.pts - base, s.time_base));
      await muxer.writeFrame(makePacket(bc, { pts, dts, data: p.data, key: p.key, duration: rescale(p.duration, s.time_base), streamIndex: s.index }));
    }
    await muxer.writeTrailer();
    opened = false;
    return await readFile(file);
  } finally {
    if (opened) muxer.forceClose?.();
    await rm(file, { force: true });
  }
}

/** Make the MP4 of the clip [from, to] (pts, resolveRange) of a content item (a live channel: stream 0 video, stream 1 audio). */
export async function makeClip(bc: Beamcoder, store: Store, format: Format, [from, to]: [number, number], options: ClipOptions): Promise<{ mp4: Buffer; from: number; to: number; startPts: number; stats: ClipStats }> {
  const name = format.url;
  const video = format.streams.find((s) => s.codecpar.codec_type === 'video');
  if (!video) throw new JobError(400, `'${name}' has no video stream to clip.`);
  const audio = format.streams.find((s) => s.codecpar.codec_type === 'audio') ?? null;
  const tb = video.time_base;
  if (((to - from) * tb[0]) / tb[1] > options.maxSeconds) throw new JobError(400, `Clips are limited to ${options.maxSeconds} s; this one asks for ${(((to - from) * tb[0]) / tb[1]).toFixed(1)} s.`);
  const key: PacketMeta | null = (await keyframeAtOrBefore(store, name, video, from)) ?? (await firstKeyframeIn(store, name, video, from, to));
  if (!key) throw new JobError(404, `No video keyframe at or before pts ${from} (nor up to ${to}) in '${name}': the range is outside what the store holds.`);
  const vpackets = await store.readPackets(name, video.index, key.dts, to + 1);
  if (vpackets.length === 0 || vpackets[0]?.meta.pts !== key.pts) throw new JobError(404, `The video of '${name}' from pts ${key.pts} has expired from the store.`);
  const start = options.accurate ? Math.max(from, key.pts) : key.pts;
  const apackets = audio ? (await store.readPackets(name, audio.index, start - TIMELINE_HZ, to + 1)).filter((p) => p.meta.pts >= start && p.meta.pts <= to).map(toTimed) : [];
  const stats: ClipStats = { accurate: options.accurate, decoded: 0, encoded: 0, maxFramesHeld: 0 };
  const v = options.accurate
    ? { stream: video, ...(await reencode(bc, video, vpackets, from, to, stats)) }
    : { stream: video, packets: vpackets.map(toTimed), extradata: extradataOf(video), width: Number(video.codecpar.width), height: Number(video.codecpar.height) };
  const a = audio ? prepareAudio(audio, apackets) : null;
  return { mp4: await muxMp4(bc, v, a), from, to, startPts: start, stats };
}

async function firstKeyframeIn(store: Store, name: string, video: Stream, from: number, to: number): Promise<PacketMeta | null> {
  const found = await store.query(name, video.index, { mode: 'score', min: from, max: to, offset: 0, limit: 100000 });
  return (found.map((e) => e.meta as PacketMeta).find((m) => m.type === 'Packet' && m.flags?.KEY) ?? null);
}
