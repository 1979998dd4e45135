/**
 * Frames as images, decoded from the store's packets: the frame at any pts (decoding from the keyframe
 * at or before it, so a non-keyframe works) or the newest decodable frame (from the latest keyframe to the
 * latest packet). Frames are then scaled and encoded as JPEG (mjpeg) or PNG.
 */

import { JobError } from '../../engine/jobs/job-types';
import type { PacketMeta, Stream } from '../../core/model/media';
import type { PacketRead, Store } from '../../core/store/store';
import { makePacket, packetBytes, type Beamcoder, type BcDecoder, type BcFrame, type BcPacket } from './beamcoder-api';
import { outputSize, type ImageFormat } from './jit-paths';
import { TIMELINE_HZ } from '../../core/model/live';

/** How far back a keyframe is looked for, in seconds of the stream's time base. */
export const KEYFRAME_LOOKBACK_SECONDS = 30;

function ticks(stream: Stream, seconds: number): number {
  const [num, den] = stream.time_base;
  return Math.round((seconds * den) / num);
}

export function extradataOf(stream: Stream): Buffer | null {
  const ex = stream.codecpar.extradata;
  return typeof ex === 'string' && ex.length > 0 ? Buffer.from(ex, 'base64') : null;
}

/** The newest keyframe with pts <= `pts` (within the lookback), or null. */
export async function keyframeAtOrBefore(store: Store, name: string, stream: Stream, pts: number): Promise<PacketMeta | null> {
  const found = await store.query(name, stream.index, { mode: 'score', min: pts - ticks(stream, KEYFRAME_LOOKBACK_SECONDS), max: pts, offset: 0, limit: 100000 });
  for (let i = found.length - 1; i >= 0; i--) {
    const meta = found[i]?.meta as PacketMeta;
    if (meta.type === 'Packet' && meta.flags?.KEY) return meta;
  }
  return null;
}

/** The newest packet of a stream, by pts, or null when it has none. */
export async function latestPacket(store: Store, name: string, stream: Stream): Promise<PacketMeta | null> {
  const found = await store.query(name, stream.index, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 });
  const meta = found[0]?.meta as PacketMeta | undefined;
  return meta && meta.type === 'Packet' ? meta : null;
}

/** A decoder for a stored video stream (its extradata set); 400 for a non-video stream, 415 for no decoder. */
export function openDecoder(bc: Beamcoder, stream: Stream): BcDecoder {
  if (stream.codecpar.codec_type !== 'video') throw new JobError(400, `Stream ${stream.index} is ${stream.codecpar.codec_type}: images need a video stream.`);
  const codec = stream.codecpar.name ?? 'h264';
  let decoder;
  try {
    decoder = bc.decoder({ name: codec });
  } catch (e) {
    throw new JobError(415, `No decoder for codec '${codec}': ${(e as Error).message}`);
  }
  const ex = extradataOf(stream);
  if (ex) decoder.extradata = ex;
  return decoder;
}

/** Decoder batches of this many packets: what bounds the decoded frames held at once. */
export const DECODE_BATCH = 8;

/** A beamcoder packet of a stored packet. */
export function storedPacket(bc: Beamcoder, p: PacketRead): BcPacket {
  return makePacket(bc, { pts: p.meta.pts, dts: p.meta.dts, data: p.data, key: p.meta.flags?.KEY === true, duration: p.meta.duration });
}

/**
 * Decode `packets` (decode order, starting at a keyframe) and keep the one frame `choose` prefers:
 * `choose(best, candidate)` returns the frame to keep. Frames are not all held in memory.
 */
export async function decodeKeeping(bc: Beamcoder, stream: Stream, packets: PacketRead[], choose: (best: BcFrame | null, f: BcFrame) => BcFrame | null): Promise<BcFrame | null> {
  const decoder = openDecoder(bc, stream);
  let best: BcFrame | null = null;
  const take = (frames: BcFrame[]) => {
    for (const f of frames) best = choose(best, f);
  };
  for (let i = 0; i < packets.length; i += DECODE_BATCH) {
    take((await decoder.decode(packets.slice(i, i + DECODE_BATCH).map((p) => storedPacket(bc, p)))).frames);
  }
  take((await decoder.flush()).frames);
  return best;
}

/** The frame with exactly this pts, decoded from the keyframe at or before it. */
export async function frameAt(bc: Beamcoder, store: Store, name: string, stream: Stream, pts: number): Promise<BcFrame> {
  const target = (await store.getElement(name, stream.index, 'packet', pts)) as PacketMeta | null;
  if (!target) throw new JobError(404, `No packet with pts ${pts} in stream ${stream.index} of '${name}'.`);
  const key = await keyframeAtOrBefore(store, name, stream, pts);
  if (!key) throw new JobError(404, `No keyframe within ${KEYFRAME_LOOKBACK_SECONDS} s before pts ${pts} in stream ${stream.index} of '${name}': the frame cannot be decoded.`);
  const packets = await store.readPackets(name, stream.index, key.dts, target.dts + 1);
  if (packets.length === 0 || packets[0]?.meta.pts !== key.pts) throw new JobError(404, `The packets from pts ${key.pts} to ${pts} have expired from the store.`);
  const frame = await decodeKeeping(bc, stream, packets, (best, f) => {
    if (best?.pts === pts) return best;
    if (f.pts === pts) return f;
    return f.pts <= pts && (!best || f.pts > best.pts) ? f : best;
  });
  if (!frame) throw new JobError(422, `Frame ${pts} of '${name}' could not be decoded.`);
  return frame;
}

/** The newest decodable frame: decode from the latest keyframe to the latest packet. */
export async function latestFrame(bc: Beamcoder, store: Store, name: string, stream: Stream): Promise<{ frame: BcFrame; latestPts: number }> {
  const latest = await latestPacket(store, name, stream);
  if (!latest) throw new JobError(404, `Stream ${stream.index} of '${name}' has no packets yet.`);
  const key = await keyframeAtOrBefore(store, name, stream, latest.pts);
  if (!key) throw new JobError(404, `No keyframe in the last ${KEYFRAME_LOOKBACK_SECONDS} s of stream ${stream.index} of '${name}'.`);
  const packets = await store.readPackets(name, stream.index, key.dts, Number.MAX_SAFE_INTEGER);
  if (packets.length === 0) throw new JobError(404, `The latest packets of '${name}' have expired from the store.`);
  const frame = await decodeKeeping(bc, stream, packets, (best, f) => (!best || f.pts >= best.pts ? f : best));
  if (!frame) throw new JobError(422, `The latest frame of '${name}' could not be decoded.`);
  return { frame, latestPts: latest.pts };
}

/** Scale a frame and encode it as one JPEG or PNG image. */
export async function encodeImage(bc: Beamcoder, frame: BcFrame, format: ImageFormat, width: number | null): Promise<Buffer> {
  const size = outputSize(frame.width, frame.height, frame.sample_aspect_ratio, width);
  const pixelFormat = format === 'png' ? 'rgb24' : 'yuvj420p';
  const filterer = await bc.filterer({
    filterType: 'video',
    inputParams: [{ width: frame.width, height: frame.height, pixelFormat: frame.format, timeBase: [1, TIMELINE_HZ], pixelAspect: frame.sample_aspect_ratio && frame.sample_aspect_ratio[0] > 0 ? frame.sample_aspect_ratio : [1, 1] }],
    outputParams: [{ pixelFormat }],
    filterSpec: `scale=${size.width}:${size.height}${format === 'png' ? '' : ':out_range=full'}:flags=bicubic`,
  });
  const out = (await filterer.filter([frame]))[0]?.frames[0];
  if (!out) throw new JobError(500, 'The image scaler produced no frame.');
  const encoder = format === 'png'
    ? bc.encoder({ name: 'png', width: out.width, height: out.height, pix_fmt: 'rgb24', time_base: [1, 25] })
    : bc.encoder({ name: 'mjpeg', width: out.width, height: out.height, pix_fmt: 'yuvj420p', time_base: [1, 25], flags: { QSCALE: true }, global_quality: 2 * 118 });
  const packets = [...(await encoder.encode(out)).packets, ...(await encoder.flush()).packets];
  if (packets.length === 0) throw new JobError(500, `The ${format} encoder produced no image.`);
  return Buffer.concat(packets.map(packetBytes));
}
