/**
 * The narrow slice of beamcoder (FFmpeg bindings, no types of its own) the JIT functions use: decode,
 * filter (scale/convert), encode, mux. Loaded lazily so importing this folder never loads native code.
 * beamcoder packets must be created with an explicit `size` and FFmpeg's input padding after the data.
 */

import type { BcPacket } from '../../core/model/bc-packet';
export type { BcPacket };

export interface BcFrame {
  pts: number;
  width: number;
  height: number;
  format: string;
  sample_aspect_ratio?: [number, number];
  key_frame?: boolean;
  /** Set to null before encoding so the encoder chooses frame types itself. */
  pict_type?: string | null;
}

export interface BcDecoder {
  extradata: Buffer | null;
  decode(packets: BcPacket | BcPacket[]): Promise<{ frames: BcFrame[] }>;
  flush(): Promise<{ frames: BcFrame[] }>;
}

export interface BcEncoder {
  extradata: Buffer | null;
  encode(frames: BcFrame | BcFrame[]): Promise<{ packets: BcPacket[] }>;
  flush(): Promise<{ packets: BcPacket[] }>;
}

export interface BcFilterer {
  filter(frames: BcFrame[]): Promise<{ name?: string; frames: BcFrame[] }[]>;
}

export interface BcMuxStream {
  index: number;
  time_base: [number, number];
  codecpar: Record<string, unknown>;
}

export interface BcMuxer {
  newStream(options: Record<string, unknown>): BcMuxStream;
  openIO(options: { url: string }): Promise<unknown>;
  writeHeader(options?: { options?: Record<string, unknown> }): Promise<unknown>;
  writeFrame(packet: BcPacket): Promise<unknown>;
  writeTrailer(): Promise<unknown>;
  forceClose?(): void;
}

export interface Beamcoder {
  AV_INPUT_BUFFER_PADDING_SIZE: number;
  decoder(options: Record<string, unknown>): BcDecoder;
  encoder(options: Record<string, unknown>): BcEncoder;
  filterer(options: Record<string, unknown>): Promise<BcFilterer>;
  muxer(options: Record<string, unknown>): BcMuxer;
  packet(options: Record<string, unknown>): BcPacket;
}

let loaded: Beamcoder | null = null;

/** beamcoder, loaded on first use (its banner goes to stdout once, on load). */
export function loadBeamcoder(): Beamcoder {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('beamcoder') as Beamcoder;
  }
  return loaded;
}

/** A beamcoder packet from stored bytes: explicit size, zeroed padding after the data. */
export function makePacket(bc: Beamcoder, p: { pts: number; dts: number; data: Buffer; key: boolean; duration?: number; streamIndex?: number }): BcPacket {
  const padded = Buffer.alloc(p.data.length + bc.AV_INPUT_BUFFER_PADDING_SIZE);
  p.data.copy(padded);
  return bc.packet({
    pts: p.pts,
    dts: p.dts,
    size: p.data.length,
    data: padded,
    stream_index: p.streamIndex ?? 0,
    duration: p.duration ?? 0,
    flags: { KEY: p.key },
  });
}

/** The bytes of an encoded packet (beamcoder buffers may carry padding past `size`). */
export function packetBytes(p: BcPacket): Buffer {
  return p.data.length > p.size ? p.data.subarray(0, p.size) : p.data;
}
