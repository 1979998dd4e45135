/**
 * The audio converter of a publish session: any audio FFmpeg decodes in, AAC-LC packets out, so the channel's
 * audio (stream 1) is always AAC and every rung shares it. One instance per session and input stream.
 *
 * decode (the input's codec) → filter graph (`aresample` to the output rate and layout with hard timestamp
 * compensation, `aformat` fltp, `asetnsamples` 1024, `asettb` 1/rate) → FFmpeg's native `aac` encoder
 * (global header, so the AudioSpecificConfig is the codec's extradata before any packet exists).
 *
 * Time: packets come in the input stream's time base and go out in it too, so the timeline normaliser
 * downstream sees one clock per session as before. The encoder counts samples at the output rate from the first
 * input timestamp (the resampler fills gaps over 0.1 s with silence and drops overlaps), so output timestamps
 * are continuous, never drift, and each is only rounded once into the input time base. Input timestamps are
 * unwrapped (33-bit MPEG-TS, 32-bit FLV) before they reach the resampler; a jump too large to fill (a publisher
 * that restarts its clock) rebuilds the filter graph, so output follows the input's jump and the normaliser
 * re-anchors both streams together. The encoder's priming packet (before the first input sample) is dropped.
 *
 * beamcoder hazards: a codec property it refuses to set during construction leaves a context that crashes the
 * process when collected, so only validated values reach `decoder()`/`encoder()`. A packet is never sent empty
 * (that means "drain" to libavcodec). A corrupt packet is counted and dropped: beamcoder does not surface
 * libavcodec's audio decode errors, so a packet that yields no samples once the decoder produces is counted.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

import type { MediaPacket, Rational, Stream } from '../core/model/media';
import {
  AAC_FRAME_SAMPLES, aacFilterSpec, aacOutputFor, aacStream, channelLayoutFor, createUnwrapState, isClockJump, samplesToTicks,
  unwrapTimestamp, type AacOutput,
} from './aac-output';
import type { BcPacket } from '../core/model/bc-packet';

// ---- the narrow part of beamcoder used here ----

interface BcAudioFrame {
  pts: number | null;
  best_effort_timestamp?: number | null;
  nb_samples: number;
  sample_rate: number;
  format: string | null;
  channels: number;
  channel_layout: string | null;
}
interface BcDecoder {
  decode(packet: unknown): Promise<{ frames: BcAudioFrame[] }>;
  flush(): Promise<{ frames: BcAudioFrame[] }>;
}
interface BcEncoder {
  extradata: Buffer | null;
  encode(frames: BcAudioFrame[]): Promise<{ packets: BcPacket[] }>;
  flush(): Promise<{ packets: BcPacket[] }>;
}
interface BcFilterer {
  filter(input: { name: string; frames: BcAudioFrame[] }[]): Promise<{ name: string; frames: BcAudioFrame[] }[]>;
}
export interface AudioBeamcoder {
  AV_INPUT_BUFFER_PADDING_SIZE: number;
  decoder(options: Record<string, unknown>): BcDecoder;
  encoder(options: Record<string, unknown>): BcEncoder;
  filterer(options: Record<string, unknown>): Promise<BcFilterer>;
  packet(options: Record<string, unknown>): unknown;
}

function loadBeamcoder(): AudioBeamcoder {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('beamcoder') as AudioBeamcoder;
}

// ---- the converter ----

export class AudioTranscodeError extends Error {
  constructor(readonly code: 'bad-input' | 'no-decoder' | 'encoder' | 'closed', message: string) {
    super(message);
    this.name = 'AudioTranscodeError';
  }
}

export interface AudioToAacOptions {
  beamcoder?: AudioBeamcoder;
  /** A forward gap up to this long is filled with silence; a longer one restarts the clock. Default 10 s. */
  maxGapSeconds?: number;
  /** A step back up to this long is trimmed; a longer one restarts the clock. Default 1 s. */
  maxBackSeconds?: number;
}

export interface AudioToAacStats {
  packetsIn: number;
  packetsOut: number;
  /** Input packets the decoder refused or made no audio from, once it was producing (dropped). */
  decodeErrors: number;
  /** Decoded frames that could not be converted (no usable rate or channels; dropped). */
  droppedFrames: number;
  /** Input samples decoded (at the input rate) and samples encoded (at the output rate). */
  samplesIn: number;
  samplesOut: number;
  /** Filter graphs built: 1 + format changes + clock restarts. */
  filterGraphs: number;
}

export interface AudioToAac {
  /** The AAC output stream (known before the first packet). */
  readonly stream: Stream;
  readonly output: AacOutput;
  /** Converts one input packet (input time base); resolves with the AAC packets that are ready. */
  push(p: MediaPacket): Promise<MediaPacket[]>;
  /** Drains decoder and encoder (call once, last). */
  flush(): Promise<MediaPacket[]>;
  close(): void;
  stats(): AudioToAacStats;
}

function validTimeBase(tb: unknown): tb is Rational {
  return Array.isArray(tb) && tb.length === 2 && tb.every((x) => Number.isSafeInteger(x) && (x as number) > 0);
}

/** Decoder options from JSON codec parameters, only with values beamcoder accepts. */
function decoderOptions(input: Stream): Record<string, unknown> {
  const cp = input.codecpar;
  const o: Record<string, unknown> = { pkt_timebase: [input.time_base[0], input.time_base[1]] };
  if (Number.isSafeInteger(cp.codec_id) && (cp.codec_id as number) > 0) o.codec_id = cp.codec_id;
  else o.name = cp.name;
  const rate = Number(cp.sample_rate);
  if (Number.isSafeInteger(rate) && rate > 0 && rate <= 768000) o.sample_rate = rate;
  const channels = Number(cp.channels);
  if (Number.isSafeInteger(channels) && channels > 0 && channels <= 64) {
    o.channels = channels;
    const layout = channelLayoutFor(channels, cp.channel_layout);
    if (layout && layout === cp.channel_layout) o.channel_layout = layout;
  }
  if (typeof cp.extradata === 'string' && cp.extradata.length > 0) o.extradata = Buffer.from(cp.extradata, 'base64');
  const bits = Number(cp.bits_per_coded_sample);
  if (Number.isSafeInteger(bits) && bits > 0 && bits <= 64) o.bits_per_coded_sample = bits;
  return o;
}

export function createAudioToAac(input: Stream, options: AudioToAacOptions = {}): AudioToAac {
  const cp = input?.codecpar;
  if (!cp || cp.codec_type !== 'audio') throw new AudioTranscodeError('bad-input', `stream ${String(input?.index)} is not audio`);
  if (!validTimeBase(input.time_base)) throw new AudioTranscodeError('bad-input', `audio stream ${input.index} has an invalid time base ${JSON.stringify(input.time_base)}`);
  const codec = typeof cp.name === 'string' && cp.name.length > 0 ? cp.name : null;
  if (!codec || codec === 'none') throw new AudioTranscodeError('no-decoder', `audio stream ${input.index} has no known codec`);
  const maxGap = options.maxGapSeconds ?? 10;
  const maxBack = options.maxBackSeconds ?? 1;
  const tb: Rational = [input.time_base[0], input.time_base[1]];
  const bc = options.beamcoder ?? loadBeamcoder();
  const out = aacOutputFor(cp);

  let decoder: BcDecoder | null;
  try {
    decoder = bc.decoder(decoderOptions(input));
  } catch (err) {
    throw new AudioTranscodeError('no-decoder', `no decoder for audio codec ${codec}: ${(err as Error).message}`);
  }
  let encoder: BcEncoder | null;
  try {
    encoder = bc.encoder({
      name: 'aac', sample_rate: out.sampleRate, channels: out.channels, channel_layout: out.channelLayout, sample_fmt: 'fltp',
      bit_rate: out.bitRate, time_base: [1, out.sampleRate], flags: { GLOBAL_HEADER: true },
    });
  } catch (err) {
    throw new AudioTranscodeError('encoder', `cannot open the AAC encoder (${out.sampleRate} Hz, ${out.channelLayout}): ${(err as Error).message}`);
  }
  const extradata = encoder.extradata;
  if (!extradata || extradata.length < 2) throw new AudioTranscodeError('encoder', 'the AAC encoder gave no AudioSpecificConfig');
  const stream = aacStream(input, out, Buffer.from(extradata));

  const stats: AudioToAacStats = { packetsIn: 0, packetsOut: 0, decodeErrors: 0, droppedFrames: 0, samplesIn: 0, samplesOut: 0, filterGraphs: 0 };
  let unwrap = createUnwrapState(tb);
  let filterer: BcFilterer | null = null;
  let filterKey = '';
  /** Where the next decoded frame should start (input ticks), null before the first. */
  let expected: number | null = null;
  let lastPacketPts: number | null = null;
  /** Output samples before this pts are the encoder's priming (null until the first frame is encoded). */
  let primingBefore: number | null = null;
  let primingDone = false;
  let fedDecoder = false;
  /** The decoder has produced samples (from then on, a packet that yields none was corrupt). */
  let decoding = false;
  let fedEncoder = false;
  let flushed = false;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  /** One call at a time: beamcoder codecs are not reentrant. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  }

  async function filterFor(f: BcAudioFrame, layout: string, restart: boolean): Promise<BcFilterer | null> {
    const key = `${f.sample_rate}:${f.format}:${layout}`;
    if (filterer && key === filterKey && !restart) return filterer;
    try {
      filterer = await bc.filterer({
        filterType: 'audio',
        inputParams: [{ name: 'in', sampleRate: f.sample_rate, sampleFormat: f.format, channelLayout: layout, timeBase: tb }],
        outputParams: [{ name: 'out', sampleRate: out.sampleRate, sampleFormat: 'fltp', channelLayout: out.channelLayout }],
        filterSpec: aacFilterSpec(out),
      });
    } catch {
      filterer = null;
      filterKey = '';
      return null;
    }
    filterKey = key;
    stats.filterGraphs += 1;
    return filterer;
  }

  function toPackets(packets: BcPacket[]): MediaPacket[] {
    const res: MediaPacket[] = [];
    for (const p of packets) {
      if (typeof p.pts !== 'number' || !Number.isFinite(p.pts)) continue;
      if (!primingDone) {
        if (primingBefore !== null && p.pts < primingBefore) continue;
        primingDone = true;
      }
      const samples = p.duration && p.duration > 0 ? p.duration : AAC_FRAME_SAMPLES;
      const pts = samplesToTicks(p.pts, out.sampleRate, tb);
      const end = samplesToTicks(p.pts + samples, out.sampleRate, tb);
      const data = Buffer.from(p.data.subarray(0, p.size));
      res.push({ streamIndex: input.index, pts, dts: pts, duration: end - pts, keyframe: true, data });
    }
    stats.packetsOut += res.length;
    return res;
  }

  async function convert(frames: BcAudioFrame[]): Promise<MediaPacket[]> {
    const enc = encoder;
    if (!enc) return [];
    const ready: BcAudioFrame[] = [];
    for (const f of frames) {
      const layout = channelLayoutFor(f.channels, f.channel_layout);
      if (!(f.nb_samples > 0) || !(f.sample_rate > 0) || !layout || !f.format) {
        stats.droppedFrames += 1;
        continue;
      }
      const raw = f.pts ?? f.best_effort_timestamp ?? expected ?? lastPacketPts;
      if (raw === null || raw === undefined || !Number.isFinite(raw)) {
        stats.droppedFrames += 1;
        continue;
      }
      const jump = isClockJump(expected, raw, tb, maxBack, maxGap);
      const graph = await filterFor(f, layout, jump);
      if (!graph) {
        stats.droppedFrames += 1;
        continue;
      }
      f.pts = raw;
      stats.samplesIn += f.nb_samples;
      expected = raw + samplesToTicks(f.nb_samples, f.sample_rate, tb);
      let res: { name: string; frames: BcAudioFrame[] }[];
      try {
        res = await graph.filter([{ name: 'in', frames: [f] }]);
      } catch {
        // A frame the graph refuses: drop it and start a fresh graph with the next one.
        stats.droppedFrames += 1;
        filterer = null;
        continue;
      }
      for (const o of res) ready.push(...o.frames);
    }
    if (ready.length === 0) return [];
    if (primingBefore === null && typeof ready[0]?.pts === 'number') primingBefore = ready[0].pts;
    stats.samplesOut += ready.reduce((n, f) => n + f.nb_samples, 0);
    fedEncoder = true;
    let encoded: { packets: BcPacket[] };
    try {
      encoded = await enc.encode(ready);
    } catch (err) {
      throw new AudioTranscodeError('encoder', `AAC encode failed: ${(err as Error).message}`);
    }
    return toPackets(encoded.packets);
  }

  function usable(): BcDecoder {
    if (closed) throw new AudioTranscodeError('closed', 'the audio converter is closed');
    if (flushed || !decoder) throw new AudioTranscodeError('closed', 'the audio converter was flushed');
    return decoder;
  }

  return {
    stream,
    output: out,
    push(p) {
      return serial(async () => {
        const dec = usable();
        if (!p || !Buffer.isBuffer(p.data) || p.data.length === 0) return [];
        const raw = Number.isFinite(p.pts) ? p.pts : p.dts;
        if (!Number.isFinite(raw)) return [];
        stats.packetsIn += 1;
        const u = unwrapTimestamp(unwrap, Math.round(raw));
        unwrap = u.state;
        lastPacketPts = u.value;
        const padded = Buffer.alloc(p.data.length + bc.AV_INPUT_BUFFER_PADDING_SIZE);
        p.data.copy(padded);
        let frames: BcAudioFrame[];
        try {
          fedDecoder = true;
          frames = (await dec.decode(bc.packet({ pts: u.value, dts: u.value, data: padded, size: p.data.length, duration: p.duration > 0 ? p.duration : 0, flags: { KEY: true } }))).frames;
        } catch {
          stats.decodeErrors += 1;
          return [];
        }
        if (closed) return [];
        // libavcodec reports corrupt audio through receive_frame, which beamcoder does not surface: a packet that
        // gives no samples once the decoder is producing is one the decoder dropped.
        if (frames.some((f) => f.nb_samples > 0)) decoding = true;
        else if (decoding) stats.decodeErrors += 1;
        return convert(frames);
      });
    },
    flush() {
      return serial(async () => {
        const dec = usable();
        flushed = true;
        let frames: BcAudioFrame[] = [];
        if (fedDecoder) {
          try {
            frames = (await dec.flush()).frames;
          } catch {
            stats.decodeErrors += 1;
          }
        }
        const res = await convert(frames);
        const enc = encoder;
        if (!enc || !fedEncoder || closed) return res;
        let tailPackets: { packets: BcPacket[] };
        try {
          tailPackets = await enc.flush();
        } catch (err) {
          throw new AudioTranscodeError('encoder', `AAC encoder flush failed: ${(err as Error).message}`);
        }
        return [...res, ...toPackets(tailPackets.packets)];
      });
    },
    close() {
      closed = true;
      decoder = null;
      encoder = null;
      filterer = null;
    },
    stats: () => ({ ...stats }),
  };
}
