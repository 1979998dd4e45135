/**
 * The Demuxer seam: publisher bytes (MPEG-TS from SRT, FLV from RTMP) in, streams and packets out,
 * over beamcoder (FFmpeg's libavformat) with an explicit input format and a small probe.
 *
 * Two byte transports into libavformat, both with the same reading loop:
 * - `socket` (default): a private unix socket (0700 temp dir) that libavformat reads through its
 *   `unix:` protocol. A read returns as soon as any bytes are there, so packets leave the demuxer
 *   one PES/tag after their bytes arrive.
 * - `stream`: beamcoder's governor, the mechanism behind `demuxerStream` (driven directly: the
 *   wrapper's delayed open turns an open failure into an unhandled rejection). Its native read
 *   only returns once the whole requested block is buffered (measured: ~100 KB for mpegts, 32 KB
 *   for flv), which adds that much input as latency at low bitrates.
 *
 * Packets come a batch at a time (a `PacketSource`: the socket transport's reading thread hands over
 * every packet read since the last wake-up; the governor one packet per read) and are yielded one by one.
 *
 * beamcoder hazards handled here: every pending native open/read holds a thread (the libuv pool's, or
 * the socket transport's reading thread), so
 * `end()`/`close()` always unblock the read (EOF), `close()` never waits on a native call longer
 * than `closeTimeoutMs` and never frees the format context while a native call still uses it;
 * garbage or truncated input ends with a DemuxError, never a crash; a TS without video still
 * yields its audio streams (the caller decides).
 */
import type { MediaPacket, Rational, Stream } from '../core/model/media';
import { TIMELINE_HZ } from '../core/model/live';
import {
  AV_PKT_FLAG_CORRUPT,
  AV_PKT_FLAG_KEY,
  DemuxError,
  governorInput,
  inputFormat,
  loadBeamcoder,
  loadDemuxBinding,
  socketInput,
  type BcFormat,
  type ByteInput,
  type PacketSource,
  type RawPacket,
} from './demux-input';

export { DemuxError, type DemuxErrorCode } from './demux-input';

// ---- public API ----

export type DemuxFormat = 'mpegts' | 'flv';
export type DemuxTransport = 'socket' | 'stream';

export interface DemuxerLog {
  warn(message: string, data?: Record<string, unknown>): void;
}

export interface DemuxerConfig {
  format: DemuxFormat;
  /**
   * Bytes libavformat may read to find the streams (probesize). Default 1 MiB: ffmpeg's TS muxer
   * sends the first audio PES ~0.7 s in, so 32 KB misses the AAC parameters of a 6 Mbps stream.
   * Probing stops as soon as every stream's parameters are known, so this rarely delays the start.
   */
  probeBytes?: number;
  /** Media time libavformat may analyse to find the streams (analyzeduration), ms. Default 200. */
  analyzeDurationMs?: number;
  /** How bytes reach libavformat. Default `socket`. */
  transport?: DemuxTransport;
  /** Bytes pushed but not yet taken by libavformat before the demuxer fails with `overflow`. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Longest `close()` waits for a native call to return. Default 2000 ms. */
  closeTimeoutMs?: number;
  log?: DemuxerLog;
}

export interface DemuxerStats {
  bytesIn: number;
  packetsOut: number;
  corruptDropped: number;
  untimedDropped: number;
}

export interface Demuxer {
  /** Hands publisher bytes to the demuxer (never blocks; the first push starts the native open). */
  push(chunk: Buffer): void;
  /** No more bytes: pending packets drain, then `packets()` ends. */
  end(): void;
  /** The input's streams (beamcoder's stream JSON, extradata as base64). Rejects with a DemuxError. */
  streams(): Promise<Stream[]>;
  /** Packets in the input's order and stream time bases. One consumer; throws a DemuxError on failure. */
  packets(): AsyncIterable<MediaPacket>;
  /** Unblocks and frees everything; safe to call at any time, more than once. */
  close(): Promise<void>;
  stats(): DemuxerStats;
}

/** Beamcoder's stream JSON with codecpar extradata as base64. */
export function streamToJson(s: unknown, fallbackIndex: number): Stream {
  const j = JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
  const codecpar = { ...((j.codecpar ?? {}) as Record<string, unknown>) };
  const ex = codecpar.extradata as { type?: string; data?: unknown } | null | undefined;
  if (ex && typeof ex === 'object' && Array.isArray(ex.data)) {
    codecpar.extradata = Buffer.from(ex.data as number[]).toString('base64');
  } else if (typeof ex !== 'string') codecpar.extradata = null;
  const tb = j.time_base;
  const timeBase: Rational = Array.isArray(tb) && tb.length === 2 ? [Number(tb[0]), Number(tb[1])] : [1, TIMELINE_HZ];
  return {
    ...j,
    index: typeof j.index === 'number' ? j.index : fallbackIndex,
    time_base: timeBase,
    codecpar: { ...codecpar, codec_type: (codecpar.codec_type ?? 'data') as Stream['codecpar']['codec_type'] },
  };
}

/** One frame's duration in the stream's time base (audio: frame_size samples; video: 1/fps), 0 if unknown. */
export function frameTicks(s: Stream): number {
  const [num, den] = s.time_base;
  if (!(num > 0 && den > 0)) return 0;
  const cp = s.codecpar;
  if (cp.codec_type === 'audio') {
    const rate = Number(cp.sample_rate);
    const size = Number(cp.frame_size) > 0 ? Number(cp.frame_size) : cp.name === 'aac' ? 1024 : 0;
    return rate > 0 && size > 0 ? (size * den) / (rate * num) : 0;
  }
  const fr = s.avg_frame_rate ?? s.r_frame_rate;
  if (cp.codec_type === 'video' && fr && fr[0] > 0 && fr[1] > 0) return (fr[1] * den) / (fr[0] * num);
  return 0;
}

function intOption(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    throw new DemuxError('bad-config', `demuxer ${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return x;
}

/** What libavformat's mpegts header may read before seeking back (resync size + packet-size probe). */
const MPEGTS_SEEKBACK = 65536 + 8192;

const noopLog: DemuxerLog = { warn: () => undefined };

/**
 * A read packet as a MediaPacket on its stream's clock, or null when it is dropped (counted in `stats`): corrupt,
 * or without timestamps and nothing to continue from. `frames`: each stream's frame duration in its ticks;
 * `nextDts`: where each stream's clock continues (updated).
 */
function timedPacket(p: RawPacket, frames: readonly number[], nextDts: Map<number, number>, stats: DemuxerStats): MediaPacket | null {
  const flags = p.flags;
  if (flags & AV_PKT_FLAG_CORRUPT) {
    stats.corruptDropped += 1;
    return null;
  }
  const streamIndex = p.streamIndex;
  const frame = frames[streamIndex] ?? 0;
  const prev = nextDts.get(streamIndex);
  let pts = p.pts ?? p.dts;
  let dts = p.dts ?? p.pts;
  if (pts === null || dts === null) {
    // Packets split from one PES while probing carry no timestamps: continue the stream's clock.
    if (prev === undefined || frame <= 0) {
      stats.untimedDropped += 1;
      return null;
    }
    pts = dts = Math.round(prev);
  }
  const rawDuration = p.duration;
  const duration = rawDuration > 0 ? rawDuration : Math.round(frame);
  nextDts.set(streamIndex, dts + (rawDuration > 0 ? rawDuration : frame));
  stats.packetsOut += 1;
  return { streamIndex, pts, dts, duration, keyframe: (flags & AV_PKT_FLAG_KEY) !== 0, data: p.data };
}

export function createDemuxer(config: DemuxerConfig): Demuxer {
  if (config.format !== 'mpegts' && config.format !== 'flv') {
    throw new DemuxError('bad-config', `demuxer format must be 'mpegts' or 'flv', got ${String(config.format)}`);
  }
  const transport = config.transport ?? 'socket';
  if (transport !== 'socket' && transport !== 'stream') {
    throw new DemuxError('bad-config', `demuxer transport must be 'socket' or 'stream', got ${String(transport)}`);
  }
  const probeBytes = intOption('probeBytes', config.probeBytes, 1024 * 1024, 2048, 64 * 1024 * 1024);
  const analyzeMs = intOption('analyzeDurationMs', config.analyzeDurationMs, 200, 0, 60000);
  const maxBuffered = intOption('maxBufferedBytes', config.maxBufferedBytes, 32 * 1024 * 1024, 65536, 2 ** 31);
  const closeTimeoutMs = intOption('closeTimeoutMs', config.closeTimeoutMs, 2000, 0, 600000);
  const log = config.log ?? noopLog;

  const bc = loadBeamcoder();
  // The socket transport's packet reader is native: a missing build fails here, not in the first push().
  if (transport === 'socket') loadDemuxBinding();
  const iformat = inputFormat(bc, config.format);
  if (!iformat) throw new DemuxError('bad-config', `this FFmpeg has no ${config.format} demuxer`);
  const options = { probesize: probeBytes, analyzeduration: analyzeMs * 1000 };

  const stats: DemuxerStats = { bytesIn: 0, packetsOut: 0, corruptDropped: 0, untimedDropped: 0 };
  let input: ByteInput | null = null;
  let opening: Promise<BcFormat> | null = null;
  let format: BcFormat | null = null;
  /** The native call in flight (open or read); the format context is freed only after it settles. */
  let nativeBusy: Promise<void> = Promise.resolve();
  let failure: DemuxError | null = null;
  let ended = false;
  let closed = false;
  let released = false;
  let iterating = false;
  let closing: Promise<void> | null = null;

  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));

  const fail = (err: DemuxError): DemuxError => {
    if (!failure) {
      failure = err;
      log.warn(`demuxer failed: ${err.message}`, { code: err.code, format: config.format });
    }
    input?.abort();
    return failure;
  };

  const track = <T>(p: Promise<T>): Promise<T> => {
    nativeBusy = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  };

  /** Frees the format context once no native call uses it; no read starts after this. */
  const release = (): Promise<void> => {
    if (released) return nativeBusy;
    released = true;
    const waitOpen = opening ? opening.then(() => undefined, () => undefined) : Promise.resolve();
    return Promise.all([waitOpen, nativeBusy]).then(() => {
      const f = format;
      format = null;
      if (f) {
        try {
          f.forceClose();
        } catch (err) {
          log.warn(`demuxer close failed: ${(err as Error).message}`);
        }
      }
    });
  };

  const start = (): void => {
    if (input || closed) return;
    input = transport === 'socket'
      ? socketInput(bc, iformat, options, config.format === 'mpegts' ? MPEGTS_SEEKBACK : 0)
      : governorInput(bc, iformat, options);
    const inp = input;
    opening = track(inp.open().then((f) => {
      format = f;
      return f;
    }));
    markStarted();
  };

  const opened: Promise<Stream[]> = started.then(async () => {
    if (closed) throw failure ?? new DemuxError('no-input', 'demuxer closed before any input');
    if (!opening) throw fail(new DemuxError('no-input', `input ended before any ${config.format} bytes arrived`));
    let f: BcFormat;
    try {
      f = await opening;
    } catch (err) {
      if (closed) throw failure ?? new DemuxError('open-failed', 'demuxer closed while opening');
      throw failure ?? fail(new DemuxError('open-failed', `cannot open ${config.format} input: ${(err as Error).message}`));
    }
    if (failure) throw failure;
    const streams = f.streams.map((s, i) => streamToJson(s, i));
    if (streams.length === 0) {
      void release();
      throw fail(new DemuxError('no-streams', `no streams found in ${stats.bytesIn} bytes of ${config.format} input`));
    }
    for (const st of streams) {
      const cp = st.codecpar;
      if ((cp.codec_type === 'audio' && !(Number(cp.sample_rate) > 0)) || (cp.codec_type === 'video' && !(Number(cp.width) > 0))) {
        log.warn(`stream ${st.index} (${cp.name ?? 'unknown'}): codec parameters incomplete after probing; raise probeBytes`, {
          probeBytes,
        });
      }
    }
    return streams;
  });
  opened.catch(() => undefined);

  async function* iterate(): AsyncGenerator<MediaPacket> {
    const frames = (await opened).map(frameTicks);
    const nextDts = new Map<number, number>();
    let source: PacketSource | null = null;
    try {
      for (;;) {
        if (failure) throw failure;
        const f = format;
        const inp = input;
        if (closed || released || !f || !inp) return;
        source ??= inp.reader(f, (work) => void track(work));
        let batch: RawPacket[] | null;
        try {
          batch = await source.next();
        } catch (err) {
          void release();
          if (closed) return;
          throw fail(new DemuxError('read-failed', `${config.format} read failed: ${(err as Error).message}`));
        }
        if (batch === null) {
          void release();
          if (failure) throw failure;
          if (!closed && stats.packetsOut === 0) {
            throw fail(new DemuxError('no-streams', `no packets in ${stats.bytesIn} bytes of ${config.format} input`));
          }
          return;
        }
        for (const p of batch) {
          if (failure) throw failure;
          if (closed || released) return;
          const packet = timedPacket(p, frames, nextDts, stats);
          if (packet) yield packet;
        }
      }
    } finally {
      // The consumer is done (end, failure, or it stopped iterating): nothing reads ahead for it any more.
      source?.stop();
    }
  }

  return {
    push(chunk) {
      if (closed || ended || failure) return;
      if (!Buffer.isBuffer(chunk)) {
        fail(new DemuxError('read-failed', 'demuxer push() takes a Buffer'));
        return;
      }
      if (chunk.length === 0) return;
      start();
      stats.bytesIn += chunk.length;
      input?.write(chunk);
      if (input && input.backlog() > maxBuffered) {
        fail(new DemuxError('overflow', `more than ${maxBuffered} bytes waiting: the demuxer's reader is too slow`));
      }
    },
    end() {
      if (ended) return;
      ended = true;
      input?.end();
      markStarted();
    },
    streams: () => opened,
    packets() {
      if (iterating) throw new DemuxError('bad-config', 'demuxer packets() has one consumer');
      iterating = true;
      return iterate();
    },
    close() {
      if (closing) return closing;
      closed = true;
      markStarted();
      closing = (async () => {
        input?.abort();
        const freed = release();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, closeTimeoutMs);
        });
        await Promise.race([freed, timedOut]);
        if (timer) clearTimeout(timer);
        await input?.dispose().catch(() => undefined);
      })();
      return closing;
    },
    stats: () => ({ ...stats }),
  };
}
