/**
 * RTMP chunk stream parser: turns arbitrarily fragmented bytes (after the handshake) into complete
 * messages. Handles 1–3 byte basic headers, fmt 0–3 message headers with per-chunk-stream state,
 * extended timestamps, Set Chunk Size, Abort and Window Acknowledgement Size (the reader reports when an
 * Acknowledgement is due). Pure: no I/O, no timers.
 *
 * Memory and work are bounded by `ReaderLimits` (rtmp-limits.ts), which the connection swaps when a publish
 * is accepted: a message longer than the limit is refused before anything is allocated, the declared
 * lengths of unfinished messages together are capped, and so are the chunk streams holding one, the
 * chunk streams tracked, the messages and the bytes. A zero-length message is refused (or, after publish,
 * a zero-length audio/video one dropped without a trace), so every input byte costs O(1).
 *
 * With `yieldAfterCommands`, parsing stops after each command message and the rest of the input waits
 * (copied, at most one input's worth) until `push` is called again, e.g. with an empty buffer: the
 * connection can change the limits between a `publish` and the media after it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { MSG, type RtmpMessage } from './messages';
import { checkBytes, checkMessageStart, publishedLimits, type ReaderLimits, type ReaderUsage } from './rtmp-limits';

export const DEFAULT_CHUNK_SIZE = 128;
const MAX_CHUNK_SIZE = 0x7fffffff;
const EXTENDED = 0xffffff;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;

export class ChunkStreamError extends Error {
  constructor(message: string) {
    super(`RTMP chunk stream: ${message}`);
    this.name = 'ChunkStreamError';
  }
}

export interface ChunkReaderOptions {
  /** The limits to start with; when absent, `publishedLimits(maxMessageBytes)` with `maxBufferedBytes`. */
  limits?: ReaderLimits;
  /** Largest message accepted when `limits` is absent (the length field allows up to 16 MiB). */
  maxMessageBytes?: number;
  /** Cap on the declared bytes of unfinished messages when `limits` is absent (default 2 × maxMessageBytes). */
  maxBufferedBytes?: number;
  /** Most chunk stream ids one peer may use (default 64). */
  maxChunkStreams?: number;
  /** Bytes already received before the chunk stream (the handshake), counted in acknowledgements. */
  bytesBefore?: number;
  /** Stop parsing after each command message (see above). */
  yieldAfterCommands?: boolean;
}

export interface ChunkReadResult {
  messages: RtmpMessage[];
  /** Sequence number to acknowledge when the peer's window was crossed by this input, else null. */
  ack: number | null;
}

export interface ChunkReader {
  push(input: Buffer): ChunkReadResult;
  /** New limits; the message and byte counts start again from 0. */
  setLimits(limits: ReaderLimits): void;
  readonly chunkSize: number;
  readonly bytesReceived: number;
  /** True when the last push stopped after a command with input left to parse. */
  readonly yielded: boolean;
}

interface ChunkStreamState {
  timestamp: number;
  /** The last timestamp field value (delta, or absolute after fmt 0), extended value included. */
  tsField: number;
  extended: boolean;
  length: number;
  typeId: number;
  streamId: number;
  /** The message being assembled (allocated at its first chunk), null between messages. */
  body: Buffer | null;
  received: number;
}

interface Header {
  fmt: number;
  csid: number;
  size: number;
}

const EMPTY = Buffer.alloc(0);

function initialLimits(opts: ChunkReaderOptions): ReaderLimits {
  if (opts.limits) return opts.limits;
  if (opts.maxMessageBytes === undefined) throw new RangeError('chunk reader: limits or maxMessageBytes is required');
  const l = publishedLimits(opts.maxMessageBytes);
  return opts.maxBufferedBytes === undefined ? l : { ...l, maxBufferedBytes: opts.maxBufferedBytes };
}

export function createChunkReader(opts: ChunkReaderOptions): ChunkReader {
  let limits = initialLimits(opts);
  const maxChunkStreams = opts.maxChunkStreams ?? 64;
  const yieldAfterCommands = opts.yieldAfterCommands ?? false;
  const states = new Map<number, ChunkStreamState>();
  let chunkSize = DEFAULT_CHUNK_SIZE;
  let pending: Buffer = EMPTY;
  let current: { csid: number; cs: ChunkStreamState; remaining: number } | null = null;
  /** Unfinished messages (partial, buffered) and what was received under the current limits (messages, bytes). */
  const usage: ReaderUsage = { partial: 0, buffered: 0, messages: 0, bytes: 0 };
  let yielded = false;
  let bytesReceived = opts.bytesBefore ?? 0;
  let ackWindow = 0;
  let lastAck = 0;

  /** Parses one chunk header at `pos`; null when more bytes are needed. */
  function parseHeader(buf: Buffer, pos: number): Header | null {
    const avail = buf.length - pos;
    if (avail < 1) return null;
    const b0 = buf[pos] as number;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let size = 1;
    if (csid === 0) {
      if (avail < 2) return null;
      csid = 64 + (buf[pos + 1] as number);
      size = 2;
    } else if (csid === 1) {
      if (avail < 3) return null;
      csid = 64 + (buf[pos + 1] as number) + (buf[pos + 2] as number) * 256;
      size = 3;
    }
    const mh = MESSAGE_HEADER_SIZE[fmt] as number;
    if (avail < size + mh) return null;
    return { fmt, csid, size: size + mh };
  }

  function stateFor(h: Header): ChunkStreamState {
    const found = states.get(h.csid);
    if (found) return found;
    if (h.fmt !== 0) throw new ChunkStreamError(`fmt ${h.fmt} header on chunk stream ${h.csid} before any fmt 0 header`);
    if (states.size >= maxChunkStreams) throw new ChunkStreamError(`more than ${maxChunkStreams} chunk streams`);
    const cs: ChunkStreamState = { timestamp: 0, tsField: 0, extended: false, length: 0, typeId: 0, streamId: 0, body: null, received: 0 };
    states.set(h.csid, cs);
    return cs;
  }

  /**
   * Applies the header at `pos` (already known complete) and returns the offset after it, or -1 when
   * the extended timestamp bytes have not arrived yet (nothing is changed then).
   */
  function applyHeader(buf: Buffer, pos: number, h: Header): number {
    const cs = stateFor(h);
    const at = pos + h.size - (MESSAGE_HEADER_SIZE[h.fmt] as number);
    const starting = cs.body === null;
    if (!starting && h.fmt !== 3) {
      throw new ChunkStreamError(`fmt ${h.fmt} header on chunk stream ${h.csid} in the middle of a ${cs.length}-byte message`);
    }
    let tsField = cs.tsField;
    let extended = cs.extended;
    if (h.fmt <= 2) {
      tsField = buf.readUIntBE(at, 3);
      extended = tsField === EXTENDED;
    }
    let end = pos + h.size;
    if (extended) {
      if (buf.length - end < 4) return -1;
      const ext = buf.readUInt32BE(end);
      if (h.fmt === 3 && !starting) {
        // Continuation chunks repeat the extended timestamp (ffmpeg, librtmp/OBS); some encoders omit it.
        if (ext === cs.tsField) end += 4;
      } else {
        tsField = ext;
        end += 4;
      }
    }
    if (!starting) return end;

    let length = cs.length;
    let typeId = cs.typeId;
    if (h.fmt <= 1) {
      length = buf.readUIntBE(at + 3, 3);
      typeId = buf[at + 6] as number;
    }
    if (h.fmt === 0) {
      cs.streamId = buf.readUInt32LE(at + 7);
      cs.timestamp = tsField;
    } else {
      cs.timestamp = (cs.timestamp + tsField) >>> 0;
    }
    cs.tsField = tsField;
    cs.extended = extended;
    cs.length = length;
    cs.typeId = typeId;
    return end;
  }

  /** Hands out a finished message; true when parsing should stop here (a command, with yieldAfterCommands). */
  function complete(cs: ChunkStreamState, csid: number, out: RtmpMessage[]): boolean {
    const payload = cs.body as Buffer;
    usage.buffered -= cs.length;
    usage.partial--;
    usage.messages++;
    cs.body = null;
    cs.received = 0;
    const msg: RtmpMessage = { chunkStreamId: csid, timestamp: cs.timestamp, typeId: cs.typeId, streamId: cs.streamId, payload };
    control(msg);
    out.push(msg);
    return yieldAfterCommands && (msg.typeId === MSG.commandAmf0 || msg.typeId === MSG.commandAmf3);
  }

  /** Protocol control messages that change how the following bytes are read. */
  function control(msg: RtmpMessage): void {
    if (msg.typeId === MSG.setChunkSize) {
      if (msg.payload.length < 4) throw new ChunkStreamError('Set Chunk Size message shorter than 4 bytes');
      const size = msg.payload.readUInt32BE(0) & MAX_CHUNK_SIZE;
      if (size < 1) throw new ChunkStreamError('Set Chunk Size to 0');
      chunkSize = size;
    } else if (msg.typeId === MSG.abort) {
      if (msg.payload.length < 4) throw new ChunkStreamError('Abort message shorter than 4 bytes');
      const target = states.get(msg.payload.readUInt32BE(0));
      if (target && target.body) {
        usage.buffered -= target.length;
        usage.partial--;
        target.body = null;
        target.received = 0;
      }
    } else if (msg.typeId === MSG.windowAckSize) {
      if (msg.payload.length < 4) throw new ChunkStreamError('Window Acknowledgement Size message shorter than 4 bytes');
      ackWindow = msg.payload.readUInt32BE(0);
    }
  }

  function push(input: Buffer): ChunkReadResult {
    const messages: RtmpMessage[] = [];
    bytesReceived += input.length;
    usage.bytes += input.length;
    const over = checkBytes(limits, usage.bytes);
    if (over) throw new ChunkStreamError(over);
    const buf = pending.length === 0 ? input : input.length === 0 ? pending : Buffer.concat([pending, input]);
    let pos = 0;
    let stop = false;
    yielded = false;
    while (!stop) {
      if (current) {
        const take = Math.min(current.remaining, buf.length - pos);
        if (take === 0) break;
        const cs = current.cs;
        buf.copy(cs.body as Buffer, cs.received, pos, pos + take);
        cs.received += take;
        pos += take;
        current.remaining -= take;
        if (current.remaining > 0) break;
        const csid = current.csid;
        current = null;
        if (cs.received === cs.length) stop = complete(cs, csid, messages);
        continue;
      }
      const h = parseHeader(buf, pos);
      if (!h) break;
      const end = applyHeader(buf, pos, h);
      if (end < 0) break;
      pos = end;
      const cs = states.get(h.csid) as ChunkStreamState;
      if (cs.body === null) {
        const verdict = checkMessageStart(limits, usage, cs);
        if (verdict === 'drop') {
          usage.messages++;
          continue;
        }
        if (verdict !== 'accept') throw new ChunkStreamError(verdict.violation);
        // Memory is committed per declared message length, so the cap holds whatever the peer sends next.
        cs.body = Buffer.allocUnsafe(cs.length);
        usage.buffered += cs.length;
        usage.partial++;
      }
      current = { csid: h.csid, cs, remaining: Math.min(chunkSize, cs.length - cs.received) };
    }
    // Keep the unparsed rest: an incomplete header (at most 18 bytes), or after a yield what follows the
    // command (at most this input); payload bytes were copied out above.
    yielded = stop && pos < buf.length;
    pending = pos >= buf.length ? EMPTY : Buffer.from(buf.subarray(pos));
    let ack: number | null = null;
    if (ackWindow > 0 && bytesReceived - lastAck >= ackWindow) {
      lastAck = bytesReceived;
      ack = bytesReceived % 0x100000000;
    }
    return { messages, ack };
  }

  return {
    push,
    setLimits(next) {
      limits = next;
      usage.messages = 0;
      usage.bytes = 0;
    },
    get chunkSize() { return chunkSize; },
    get bytesReceived() { return bytesReceived; },
    get yielded() { return yielded; },
  };
}
