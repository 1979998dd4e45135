/**
 * How publisher bytes reach libavformat for the Demuxer (see demuxer.ts): the narrow beamcoder
 * interface it uses, and the two byte transports, a private unix socket read through libavformat's
 * `unix:` protocol and beamcoder's governor (the mechanism behind `demuxerStream`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BcPacket } from '../core/model/bc-packet';
import { requireNativeAddon } from '../core/native-addon';

export type DemuxErrorCode = 'bad-config' | 'no-input' | 'open-failed' | 'no-streams' | 'read-failed' | 'overflow';

/** A demuxer failure, as data: `code` says what happened; every one is fatal to the demuxer. */
export class DemuxError extends Error {
  readonly code: DemuxErrorCode;
  readonly fatal = true;
  constructor(code: DemuxErrorCode, message: string) {
    super(message);
    this.name = 'DemuxError';
    this.code = code;
  }
}

// ---- the narrow part of beamcoder this seam uses (beamcoder ships no types we rely on) ----

export type { BcPacket };
export interface BcFormat {
  streams: unknown[];
  read(): Promise<BcPacket | null>;
  forceClose(): void;
}
export interface BcInputFormat {
  name: string;
}
interface BcGovernor {
  write(chunk: Buffer): Promise<null>;
  finish(): void;
}
interface BcDemuxerOptions {
  url?: string;
  governor?: BcGovernor;
  iformat: BcInputFormat;
  options: Record<string, string | number>;
}
export interface Beamcoder {
  demuxers(): Record<string, BcInputFormat | undefined>;
  demuxer(options: BcDemuxerOptions): Promise<BcFormat>;
  governor: new (params: { highWaterMark?: number }) => BcGovernor;
}

export function loadBeamcoder(): Beamcoder {
  return require('beamcoder') as Beamcoder;
}

const inputFormats = new Map<string, BcInputFormat>();

/**
 * FFmpeg's input format `name` (undefined when this FFmpeg has none), looked up once per process: beamcoder lists
 * every demuxer FFmpeg has to find one, 20–50 ms of the main thread, which every publish would otherwise pay.
 */
export function inputFormat(bc: Beamcoder, name: string): BcInputFormat | undefined {
  let f = inputFormats.get(name);
  if (!f) {
    f = bc.demuxers()[name];
    if (f) inputFormats.set(name, f);
  }
  return f;
}

/** One demuxed packet as the reading loop uses it: `flags` are FFmpeg's AV_PKT_FLAG_* bits, `data` the payload only. */
export interface RawPacket {
  streamIndex: number;
  /** null when FFmpeg knows no timestamp (AV_NOPTS_VALUE). */
  pts: number | null;
  dts: number | null;
  duration: number;
  flags: number;
  data: Buffer;
}

export const AV_PKT_FLAG_KEY = 0x1;
export const AV_PKT_FLAG_CORRUPT = 0x2;

/** A reading thread started by `startReader` (opaque). */
export type NativeReaderHandle = { readonly __nativeReader: unique symbol };

/** `startReader`'s callback: the packets read since the last call; state 0 = more to come, 1 = end, 2 = read error. */
export type NativeReaderCallback = (packets: RawPacket[], state: 0 | 1 | 2, message: string | null) => void;

/** Beamline's packet reader (ingest/demux-native, built by infra/setup.sh with node-gyp). */
export interface DemuxBinding {
  /** The next packet of a beamcoder demuxer opened from a URL, or null at the end (see packet-reader.cc). */
  readPacket(format: BcFormat): Promise<RawPacket | null>;
  /**
   * A thread reading the packets of a beamcoder demuxer opened from a URL, handing them over in batches (see
   * packet-pump.cc); it pauses while more than `maxQueuedBytes` (payload + 64 per packet) were handed over and
   * not released.
   */
  startReader(format: BcFormat, onPackets: NativeReaderCallback, maxQueuedBytes: number): NativeReaderHandle;
  releaseBytes(handle: NativeReaderHandle, bytes: number): void;
  /** The thread ends at its next check (a read in progress ends when the input is aborted). */
  stopReader(handle: NativeReaderHandle): void;
}

export const DEMUX_ADDON_RELATIVE_PATH = join('ingest', 'demux-native', 'build', 'Release', 'beamline_demux.node');

let demuxBinding: DemuxBinding | null = null;

export function loadDemuxBinding(from: string = __dirname): DemuxBinding {
  if (demuxBinding) return demuxBinding;
  const { file, addon } = requireNativeAddon(DEMUX_ADDON_RELATIVE_PATH, "the demuxer's native packet reader", 'the Debian FFmpeg dev packages and build-essential', from);
  const b = addon as Partial<DemuxBinding>;
  if (typeof b.startReader !== 'function' || typeof b.readPacket !== 'function') {
    throw new Error(`the demuxer's native packet reader at ${file} is an older build: run "npm run setup" to rebuild it`);
  }
  demuxBinding = b as DemuxBinding;
  return demuxBinding;
}

/** A beamcoder packet as a RawPacket (each of its native getters read once). */
export function fromBcPacket(p: BcPacket): RawPacket {
  const flags = p.flags;
  return {
    streamIndex: p.stream_index,
    pts: p.pts,
    dts: p.dts,
    duration: p.duration ?? 0,
    flags: (flags.KEY ? AV_PKT_FLAG_KEY : 0) | (flags.CORRUPT ? AV_PKT_FLAG_CORRUPT : 0),
    data: p.data.subarray(0, p.size),
  };
}

/** The packets of an opened format, in order, a batch at a time. */
export interface PacketSource {
  /**
   * The packets ready now (at least one), or the next ones once there are; null at the end of the input; rejects
   * on a read failure. Calling it again means the previous batch was consumed.
   */
  next(): Promise<RawPacket[] | null>;
  /** No more batches will be asked for: a reading thread ends (at its next check). */
  stop(): void;
}

/** Registers native work on the format (it is freed only once every registered promise settled). */
export type TrackNative = (work: Promise<unknown>) => void;

/** Bytes handed from the reading thread to JS and not yet consumed, before it pauses (payload + 64 per packet). */
export const NATIVE_READER_QUEUE_BYTES = 4 * 1024 * 1024;
const PACKET_OVERHEAD = 64;

/**
 * The packets of `format` from Beamline's reading thread (packet-pump.cc): one wake-up of the main thread per
 * batch of packets that came together, none per packet. `track` is given the thread's lifetime; `stop()` (the
 * input's abort) ends it.
 */
export function threadSource(binding: DemuxBinding, format: BcFormat, track: TrackNative, maxQueuedBytes = NATIVE_READER_QUEUE_BYTES): PacketSource {
  let queue: RawPacket[] = [];
  let state: 0 | 1 | 2 = 0;
  let message: string | null = null;
  let unreleased = 0;
  let waiter: { resolve: (v: RawPacket[] | null) => void; reject: (e: Error) => void } | null = null;
  let markDone: () => void = () => undefined;
  track(new Promise<void>((resolve) => (markDone = resolve)));

  const take = (): RawPacket[] | null | Error => {
    if (queue.length > 0) {
      const out = queue;
      queue = [];
      for (const p of out) unreleased += p.data.length + PACKET_OVERHEAD;
      return out;
    }
    if (state === 1) return null;
    if (state === 2) return new Error(message ?? 'read failed');
    return queue;
  };
  const handle = binding.startReader(format, (packets, st, msg) => {
    if (packets.length > 0) queue = queue.length > 0 ? queue.concat(packets) : packets;
    if (st !== 0) {
      state = st;
      message = msg;
      markDone();
    }
    const w = waiter;
    if (!w) return;
    const got = take();
    if (Array.isArray(got) && got.length === 0) return;
    waiter = null;
    if (got instanceof Error) w.reject(got);
    else w.resolve(got);
  }, maxQueuedBytes);

  return {
    next() {
      if (unreleased > 0 && state === 0) binding.releaseBytes(handle, unreleased);
      unreleased = 0;
      const got = take();
      if (got instanceof Error) return Promise.reject(got);
      if (got === null || got.length > 0) return Promise.resolve(got);
      return new Promise((resolve, reject) => (waiter = { resolve, reject }));
    },
    stop() {
      if (state === 0) binding.stopReader(handle);
    },
  };
}

/** How bytes reach libavformat, and how its packets come back. */
export interface ByteInput {
  /** Starts the native open. */
  open(): Promise<BcFormat>;
  /** The packets of the format `open()` gave; `track` is given every native call on it. Called once. */
  reader(format: BcFormat, track: TrackNative): PacketSource;
  write(chunk: Buffer): void;
  end(): void;
  /** Makes any native read return at once (EOF). Idempotent. */
  abort(): void;
  /** Bytes accepted but not yet handed to libavformat. */
  backlog(): number;
  dispose(): Promise<void>;
}

/**
 * libavformat's mpegts header reads ahead and seeks back within its IO buffer; when the bytes come in
 * small partial reads the buffer can recycle before that seek ("Unable to seek back to the start")
 * and the first packets are lost. So the socket transport holds the first `holdBytes` (or all, at
 * end) and hands them over in one write, so the header is parsed from one buffered run.
 */
export function socketInput(bc: Beamcoder, iformat: BcInputFormat, options: Record<string, number>, holdBytes: number): ByteInput {
  // Packets are read by Beamline's reading thread, not beamcoder's `read()`: beamcoder builds each packet as an
  // object of native accessors that costs ~14 KB of V8 old space (the cause of a full GC every ~2 s per channel),
  // and a read per packet is a libuv pool round trip and a promise.
  const binding = loadDemuxBinding();
  let source: PacketSource | null = null;
  let dir: string | null = null;
  let server: net.Server | null = null;
  let socket: net.Socket | null = null;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let ended = false;
  let aborted = false;

  let connection: net.Socket | null = null;
  const release = (): void => {
    const s = connection;
    if (!s || socket || (pendingBytes < holdBytes && !ended)) return;
    socket = s;
    if (pending.length > 0) s.write(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
    if (ended) s.end();
  };
  const attach = (s: net.Socket): void => {
    if (connection || aborted) {
      s.destroy();
      return;
    }
    connection = s;
    // libavformat closing its end first gives EPIPE/ECONNRESET here: the reader reports the outcome.
    s.on('error', () => undefined);
    server?.close();
    release();
  };

  return {
    async open() {
      dir = await mkdtemp(join(tmpdir(), 'beamline-demux-'));
      const path = join(dir, 'in.sock');
      const srv = net.createServer(attach);
      server = srv;
      srv.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(path, () => resolve());
      });
      if (aborted) {
        srv.close();
        throw new DemuxError('open-failed', 'demuxer closed before it opened');
      }
      return bc.demuxer({ url: `unix:${path}`, iformat, options });
    },
    reader(format, track) {
      const src = threadSource(binding, format, track);
      source = src;
      if (aborted) src.stop();
      return src;
    },
    write(chunk) {
      if (aborted || ended) return;
      if (socket) socket.write(chunk);
      else {
        pending.push(chunk);
        pendingBytes += chunk.length;
        release();
      }
    },
    end() {
      ended = true;
      if (socket) socket.end();
      else release();
    },
    abort() {
      aborted = true;
      pending = [];
      pendingBytes = 0;
      connection?.destroy();
      server?.close();
      source?.stop();
    },
    backlog() {
      return socket ? socket.writableLength : pendingBytes;
    },
    async dispose() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function governorInput(bc: Beamcoder, iformat: BcInputFormat, options: Record<string, number>): ByteInput {
  const governor = new bc.governor({});
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let writing = false;
  let ended = false;
  let finished = false;

  const finish = (): void => {
    if (finished) return;
    finished = true;
    governor.finish();
  };
  // One native write at a time (each may hold a pool thread while the queue is full); coalesce the rest.
  const pump = (): void => {
    if (writing || finished) return;
    if (pending.length > 0) {
      const chunk = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      writing = true;
      governor.write(chunk).then(
        () => {
          writing = false;
          pump();
        },
        () => {
          writing = false;
          finish();
        },
      );
    } else if (ended) finish();
  };

  return {
    open: () => bc.demuxer({ governor, iformat, options }),
    reader: (format, track) => ({
      async next() {
        const read = format.read();
        track(read);
        const p = await read;
        return p === null ? null : [fromBcPacket(p)];
      },
      stop: () => undefined,
    }),
    write(chunk) {
      if (ended || finished) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      pump();
    },
    end() {
      ended = true;
      pump();
    },
    abort() {
      pending = [];
      pendingBytes = 0;
      finish();
    },
    backlog: () => pendingBytes,
    dispose: async () => undefined,
  };
}

