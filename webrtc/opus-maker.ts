/**
 * AAC → Opus for WebRTC viewers, made once per channel and process (every viewer of the channel shares the
 * packets), like ingest's one conversion to AAC: decode AAC → `aresample` 48 kHz, `aformat` flt stereo,
 * `asetnsamples` 960 → libopus (20 ms frames, 96 kb/s). Output timestamps count samples from the first input
 * packet's pts on the channel's 90 kHz timeline, so audio stays on the video's clock; a jump in the input (a
 * publisher reconnect) restarts the count.
 *
 * beamcoder hazard (see ingest/audio-to-aac.ts): only validated values reach `decoder()`/`encoder()`; a packet
 * is never sent empty.
 */

import type { Stream } from '../core/model/media';
import type { BcPacket } from '../core/model/bc-packet';
import { TIMELINE_HZ } from '../core/model/live';

interface BcFrame {
  pts: number | null;
  nb_samples: number;
  sample_rate: number;
  format: string | null;
  channels: number;
  channel_layout: string | null;
}
interface Bc {
  AV_INPUT_BUFFER_PADDING_SIZE: number;
  decoder(o: Record<string, unknown>): { decode(p: unknown): Promise<{ frames: BcFrame[] }> };
  encoder(o: Record<string, unknown>): { encode(f: BcFrame[]): Promise<{ packets: BcPacket[] }> };
  filterer(o: Record<string, unknown>): Promise<{ filter(i: { name: string; frames: BcFrame[] }[]): Promise<{ name: string; frames: BcFrame[] }[]> }>;
  packet(o: Record<string, unknown>): unknown;
}

export const OPUS_RATE = 48000;
export const OPUS_FRAME_SAMPLES = 960;

export interface OpusPacket {
  /** Presentation time on the channel's 90 kHz timeline. */
  pts: number;
  /** RTP timestamp base: samples at 48 kHz since the maker started (continuous across input jumps). */
  samples: number;
  data: Buffer;
}

export interface OpusMaker {
  push(aac: { pts: number; data: Buffer }): Promise<OpusPacket[]>;
  close(): void;
  stats(): { packetsIn: number; packetsOut: number; errors: number };
}

function layoutFor(channels: number): string {
  return channels === 1 ? 'mono' : 'stereo';
}

export function createOpusMaker(aacStream: Stream, beamcoder?: Bc): OpusMaker {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bc = beamcoder ?? (require('beamcoder') as Bc);
  const cp = aacStream.codecpar;
  const rate = Number(cp.sample_rate);
  const channels = Number(cp.channels);
  const opts: Record<string, unknown> = { name: 'aac', pkt_timebase: [1, TIMELINE_HZ] };
  if (Number.isSafeInteger(rate) && rate >= 8000 && rate <= 96000) opts.sample_rate = rate;
  if (channels === 1 || channels === 2) {
    opts.channels = channels;
    opts.channel_layout = layoutFor(channels);
  }
  if (typeof cp.extradata === 'string' && cp.extradata.length > 0) opts.extradata = Buffer.from(cp.extradata, 'base64');
  const decoder = bc.decoder(opts);
  const encoder = bc.encoder({
    name: 'libopus', sample_rate: OPUS_RATE, channels: 2, channel_layout: 'stereo', sample_fmt: 'flt', bit_rate: 96000,
    time_base: [1, OPUS_RATE],
  });
  let filterer: Awaited<ReturnType<Bc['filterer']>> | null = null;
  let filterKey = '';
  let originPts: number | null = null;
  let originSamples = 0;
  let expectedPts: number | null = null;
  let samplesOut = 0;
  let samplesIn = 0;
  let closed = false;
  const stats = { packetsIn: 0, packetsOut: 0, errors: 0 };
  let tail: Promise<unknown> = Promise.resolve();

  async function graphFor(f: BcFrame): Promise<typeof filterer> {
    const key = `${f.sample_rate}:${f.format}:${f.channels}`;
    if (filterer && key === filterKey) return filterer;
    filterer = await bc.filterer({
      filterType: 'audio',
      inputParams: [{ name: 'in', sampleRate: f.sample_rate, sampleFormat: f.format, channelLayout: layoutFor(f.channels), timeBase: [1, f.sample_rate] }],
      outputParams: [{ name: 'out', sampleRate: OPUS_RATE, sampleFormat: 'flt', channelLayout: 'stereo' }],
      filterSpec: `aresample=${OPUS_RATE},aformat=sample_fmts=flt:channel_layouts=stereo,asetnsamples=n=${OPUS_FRAME_SAMPLES}:p=0`,
    });
    filterKey = key;
    return filterer;
  }

  async function convert(pts: number, data: Buffer): Promise<OpusPacket[]> {
    // A jump of more than 0.5 s from where the input should be (a reconnect) restarts the count there.
    if (expectedPts === null || Math.abs(pts - expectedPts) > TIMELINE_HZ / 2) {
      originPts = pts;
      originSamples = samplesOut;
      samplesIn = 0;
    }
    const padded = Buffer.alloc(data.length + bc.AV_INPUT_BUFFER_PADDING_SIZE);
    data.copy(padded);
    const { frames } = await decoder.decode(bc.packet({ pts, dts: pts, data: padded, size: data.length, flags: { KEY: true } }));
    const ready: BcFrame[] = [];
    for (const f of frames) {
      if (!(f.nb_samples > 0) || !(f.sample_rate > 0) || !f.format || (f.channels !== 1 && f.channels !== 2)) continue;
      f.pts = samplesIn;
      samplesIn += f.nb_samples;
      expectedPts = pts + Math.round((f.nb_samples * TIMELINE_HZ) / f.sample_rate);
      const g = await graphFor(f);
      if (!g) continue;
      for (const o of await g.filter([{ name: 'in', frames: [f] }])) ready.push(...o.frames);
    }
    if (ready.length === 0) return [];
    const { packets } = await encoder.encode(ready);
    const out: OpusPacket[] = [];
    for (const p of packets) {
      if (p.size <= 0) continue;
      const at = samplesOut;
      samplesOut += OPUS_FRAME_SAMPLES;
      const since = at - originSamples;
      out.push({ pts: (originPts ?? 0) + Math.round((since * TIMELINE_HZ) / OPUS_RATE), samples: at, data: Buffer.from(p.data.subarray(0, p.size)) });
    }
    stats.packetsOut += out.length;
    return out;
  }

  return {
    push(aac) {
      const run = tail.then(async () => {
        if (closed || aac.data.length === 0) return [];
        stats.packetsIn++;
        try {
          return await convert(aac.pts, aac.data);
        } catch {
          stats.errors++;
          return [];
        }
      });
      tail = run.catch(() => undefined);
      return run;
    },
    close() {
      closed = true;
      filterer = null;
    },
    stats: () => ({ ...stats }),
  };
}
