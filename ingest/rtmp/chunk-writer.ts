/**
 * RTMP chunk stream writer: splits messages into chunks of the current outgoing chunk size, choosing
 * the smallest message header per chunk stream the way encoders do (fmt 0 for a new stream or a
 * backwards timestamp, fmt 1 for a new length/type, fmt 2 for a new delta, fmt 3 for a repeat), with
 * extended timestamps (repeated on continuation chunks). Pure apart from its per-stream state.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { DEFAULT_CHUNK_SIZE } from './chunk-reader';
import type { RtmpMessage } from './messages';

const EXTENDED = 0xffffff;

export interface ChunkWriterOptions {
  /** Initial outgoing chunk size (default 128). Change it with setChunkSize after sending Set Chunk Size. */
  chunkSize?: number;
  /** false = always fmt 0 for the first chunk of a message (default true). */
  compress?: boolean;
}

export interface ChunkWriter {
  write(msg: RtmpMessage): Buffer;
  setChunkSize(size: number): void;
  readonly chunkSize: number;
}

interface LastHeader {
  timestamp: number;
  tsField: number;
  length: number;
  typeId: number;
  streamId: number;
}

export function encodeBasicHeader(fmt: number, csid: number): Buffer {
  if (!Number.isInteger(csid) || csid < 2 || csid > 65599) throw new RangeError(`chunk stream id ${csid} out of range 2..65599`);
  if (csid < 64) return Buffer.from([(fmt << 6) | csid]);
  if (csid < 320) return Buffer.from([fmt << 6, csid - 64]);
  const v = csid - 64;
  return Buffer.from([(fmt << 6) | 1, v & 0xff, v >> 8]);
}

function chooseFormat(prev: LastHeader | undefined, msg: RtmpMessage): { fmt: number; tsField: number } {
  if (!prev || prev.streamId !== msg.streamId || msg.timestamp < prev.timestamp) {
    return { fmt: 0, tsField: msg.timestamp };
  }
  const delta = msg.timestamp - prev.timestamp;
  if (prev.length !== msg.payload.length || prev.typeId !== msg.typeId) return { fmt: 1, tsField: delta };
  if (delta !== prev.tsField) return { fmt: 2, tsField: delta };
  return { fmt: 3, tsField: delta };
}

function messageHeader(fmt: number, tsField: number, msg: RtmpMessage): Buffer {
  const ts = Math.min(tsField, EXTENDED);
  const size = [11, 7, 3, 0][fmt] as number;
  const h = Buffer.alloc(size);
  if (fmt <= 2) h.writeUIntBE(ts, 0, 3);
  if (fmt <= 1) {
    h.writeUIntBE(msg.payload.length, 3, 3);
    h[6] = msg.typeId;
  }
  if (fmt === 0) h.writeUInt32LE(msg.streamId >>> 0, 7);
  return h;
}

export function createChunkWriter(opts: ChunkWriterOptions = {}): ChunkWriter {
  let chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const compress = opts.compress ?? true;
  const last = new Map<number, LastHeader>();

  function write(msg: RtmpMessage): Buffer {
    if (msg.payload.length > 0xffffff) throw new RangeError(`RTMP message of ${msg.payload.length} bytes exceeds 16 MiB`);
    const chosen = compress ? chooseFormat(last.get(msg.chunkStreamId), msg) : { fmt: 0, tsField: msg.timestamp };
    const { fmt, tsField } = chosen;
    last.set(msg.chunkStreamId, {
      timestamp: msg.timestamp, tsField, length: msg.payload.length, typeId: msg.typeId, streamId: msg.streamId,
    });
    const extended = tsField >= EXTENDED;
    let ext: Buffer | null = null;
    if (extended) {
      ext = Buffer.allocUnsafe(4);
      ext.writeUInt32BE(tsField >>> 0, 0);
    }
    const parts: Buffer[] = [encodeBasicHeader(fmt, msg.chunkStreamId), messageHeader(fmt, tsField, msg)];
    if (ext) parts.push(ext);
    const continuation = encodeBasicHeader(3, msg.chunkStreamId);
    for (let at = 0; at < msg.payload.length || at === 0; at += chunkSize) {
      if (at > 0) {
        parts.push(continuation);
        if (ext) parts.push(ext);
      }
      parts.push(msg.payload.subarray(at, Math.min(at + chunkSize, msg.payload.length)));
      if (msg.payload.length === 0) break;
    }
    return Buffer.concat(parts);
  }

  return {
    write,
    setChunkSize(size: number) {
      if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) throw new RangeError(`chunk size ${size} out of range`);
      chunkSize = size;
    },
    get chunkSize() { return chunkSize; },
  };
}
