/**
 * RTMP message model: type ids, the message shape the chunk layer produces and consumes, and pure
 * builders/parsers for protocol control and user control messages.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { encodeAmf0, type Amf0Value } from './amf0';

export const MSG = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  sharedObjectAmf3: 16,
  commandAmf3: 17,
  dataAmf0: 18,
  sharedObjectAmf0: 19,
  commandAmf0: 20,
  aggregate: 22,
} as const;

export const USER_CONTROL = {
  streamBegin: 0,
  streamEof: 1,
  streamDry: 2,
  setBufferLength: 3,
  streamIsRecorded: 4,
  pingRequest: 6,
  pingResponse: 7,
} as const;

/** Chunk stream ids the server uses for what it sends. */
export const CSID = { control: 2, command: 3 } as const;

export interface RtmpMessage {
  chunkStreamId: number;
  /** Absolute timestamp in ms (uint32, wraps). */
  timestamp: number;
  typeId: number;
  /** Message stream id (0 = the connection's control stream). */
  streamId: number;
  payload: Buffer;
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

function control(typeId: number, payload: Buffer): RtmpMessage {
  return { chunkStreamId: CSID.control, timestamp: 0, typeId, streamId: 0, payload };
}

export function setChunkSizeMessage(size: number): RtmpMessage {
  return control(MSG.setChunkSize, u32(size & 0x7fffffff));
}

export function acknowledgementMessage(sequence: number): RtmpMessage {
  return control(MSG.acknowledgement, u32(sequence));
}

export function windowAckSizeMessage(size: number): RtmpMessage {
  return control(MSG.windowAckSize, u32(size));
}

/** limitType: 0 hard, 1 soft, 2 dynamic. */
export function setPeerBandwidthMessage(size: number, limitType: 0 | 1 | 2): RtmpMessage {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size >>> 0, 0);
  b[4] = limitType;
  return control(MSG.setPeerBandwidth, b);
}

export function userControlMessage(event: number, value: number): RtmpMessage {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  return control(MSG.userControl, b);
}

export function commandMessage(streamId: number, ...values: Amf0Value[]): RtmpMessage {
  return { chunkStreamId: CSID.command, timestamp: 0, typeId: MSG.commandAmf0, streamId, payload: encodeAmf0(...values) };
}

export interface UserControlEvent {
  event: number;
  /** The 4-byte value most events carry (stream id, timestamp); null when absent. */
  value: number | null;
}

export function parseUserControl(payload: Buffer): UserControlEvent {
  if (payload.length < 2) throw new Error(`RTMP user control message too short (${payload.length} bytes)`);
  return { event: payload.readUInt16BE(0), value: payload.length >= 6 ? payload.readUInt32BE(2) : null };
}

/** Reads the 4-byte big-endian value of Set Chunk Size / Abort / Ack / Window Ack Size. */
export function readControlU32(msg: RtmpMessage, name: string): number {
  if (msg.payload.length < 4) throw new Error(`RTMP ${name} message too short (${msg.payload.length} bytes)`);
  return msg.payload.readUInt32BE(0);
}

/** One media or data message carried inside an aggregate message (type 22). */
export interface AggregatePart {
  typeId: number;
  timestamp: number;
  payload: Buffer;
}

/**
 * Splits an aggregate message into its sub-messages. Their timestamps are rebased so the first one
 * equals the aggregate message's own timestamp.
 */
export function splitAggregate(msg: RtmpMessage): AggregatePart[] {
  const parts: AggregatePart[] = [];
  const buf = msg.payload;
  let at = 0;
  let base: number | null = null;
  while (at < buf.length) {
    if (at + 11 > buf.length) throw new Error(`RTMP aggregate message: truncated sub-header at byte ${at}`);
    const typeId = buf[at] as number;
    const size = buf.readUIntBE(at + 1, 3);
    const ts = (buf.readUIntBE(at + 4, 3) | ((buf[at + 7] as number) << 24)) >>> 0;
    const start = at + 11;
    if (start + size + 4 > buf.length) throw new Error(`RTMP aggregate message: sub-message of ${size} bytes overruns at byte ${at}`);
    if (base === null) base = ts;
    parts.push({ typeId, timestamp: (msg.timestamp + (ts - base)) >>> 0, payload: buf.subarray(start, start + size) });
    at = start + size + 4;
  }
  return parts;
}
