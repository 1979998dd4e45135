/**
 * One RTMP publish: receives the publisher's audio/video/data messages, lets H.264 video and the audio
 * FFmpeg's flv demuxer decodes through (AAC passes on; MP3, PCM, ADPCM, Nellymoser, G.711 and Speex are
 * transcoded to AAC by the publish session), and emits the stream as FLV bytes (header first, then one tag
 * per message), its metadata, and a close reason. Keeps stats (bytes, windowed bitrate, codecs). No sockets here: the connection owns I/O and is
 * asked to terminate through the `terminate` callback. Log lines name the session and channel, never the stream key.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import {
  FLV_TAG, FLV_VIDEO_CODEC_AVC, flvHeader, flvTag, parseAudioTagHeader,
  parseVideoTagHeader, scriptDataFromMessage, soundFormatName, videoCodecName,
} from './flv';
import { MSG, splitAggregate } from './messages';
import { createEmitter, type Listener } from './typed-emitter';

export interface RtmpPeer {
  address: string;
  port: number;
}

export interface RtmpLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Why a publish session ended. `unpublished`: the encoder said so (FCUnpublish/deleteStream);
 * `disconnected`: the socket closed; `replaced`: a new publish for the same route took over; `idle`: no
 * media for idleTimeoutMs; `unsupported-codec`: video not H.264, or audio FFmpeg cannot decode
 * (enhanced-RTMP/FourCC, reserved, device-specific); `protocol-error`: malformed input;
 * `closed`: session.close() was called; `shutdown`: the server closed.
 */
export type RtmpCloseReason =
  | 'unpublished' | 'disconnected' | 'replaced' | 'idle' | 'unsupported-codec' | 'protocol-error' | 'closed' | 'shutdown';

export interface RtmpSessionStats {
  /** Audio, video and data payload bytes received. */
  bytes: number;
  /** Bits per second over the last few seconds of payload. */
  bitrate: number;
  videoCodec: 'h264' | null;
  /** FFmpeg's codec name of the audio (`aac`, `mp3`, `pcm_s16le`, `nellymoser`, `pcm_alaw`, `speex`, ...). */
  audioCodec: string | null;
  videoFrames: number;
  keyFrames: number;
  audioFrames: number;
  /** Wall clock (ms since epoch) of the publish and of the last media message. */
  startedAt: number;
  lastMediaAt: number | null;
  /** Last media timestamp (ms, as sent by the encoder), null before the first. */
  lastTimestamp: number | null;
}

export type RtmpSessionEvents = {
  data: [flvChunk: Buffer];
  metadata: [metadata: Record<string, unknown>];
  close: [reason: RtmpCloseReason, detail: string];
};

export interface RtmpSession {
  readonly id: string;
  readonly app: string;
  readonly streamKey: string;
  /** The channel the authorizer named, else null. */
  readonly channel: string | null;
  /** A redundant input's role (the authorizer's; default primary). */
  readonly role: 'primary' | 'backup';
  readonly peer: RtmpPeer;
  readonly closed: boolean;
  on<K extends keyof RtmpSessionEvents>(event: K, fn: Listener<RtmpSessionEvents[K]>): void;
  off<K extends keyof RtmpSessionEvents>(event: K, fn: Listener<RtmpSessionEvents[K]>): void;
  stats(): RtmpSessionStats;
  /** Ends the publish and closes the publisher's socket (reason `closed`). */
  close(): void;
}

/** What the connection and the server see of a session. */
export interface PublishSession extends RtmpSession {
  /** The registry key: channel when known, else stream key. */
  readonly route: string;
  /** The RTMP message stream id it publishes on. */
  readonly streamId: number;
  /** Feeds one audio (8), video (9), AMF0 data (18) or aggregate (22) message. */
  media(typeId: number, timestamp: number, payload: Buffer): void;
  /** Records the end and emits `close` once (called by the connection). */
  end(reason: RtmpCloseReason, detail: string): void;
  /** Asks the owning connection to end this session and close its socket. */
  terminate(reason: RtmpCloseReason, detail: string): void;
}

export interface PublishSessionInit {
  id: string;
  app: string;
  streamKey: string;
  channel: string | null;
  role?: 'primary' | 'backup';
  peer: RtmpPeer;
  streamId: number;
  log: RtmpLogger;
  now: () => number;
  /** Closes the owning connection; the connection then calls `end`. */
  terminate: (reason: RtmpCloseReason, detail: string) => void;
}

const BITRATE_WINDOW_MS = 5000;

export function createPublishSession(init: PublishSessionInit): PublishSession {
  const events = createEmitter<RtmpSessionEvents>((event, err) => {
    init.log.warn({ session: init.id, event, err: String(err) }, 'rtmp session listener threw');
  });
  const startedAt = init.now();
  const stats: RtmpSessionStats = {
    bytes: 0, bitrate: 0, videoCodec: null, audioCodec: null, videoFrames: 0, keyFrames: 0, audioFrames: 0,
    startedAt, lastMediaAt: null, lastTimestamp: null,
  };
  const window: { t: number; bytes: number }[] = [];
  let headerSent = false;
  let headerFlags = { audio: true, video: true };
  let closed = false;

  function count(bytes: number): void {
    const t = init.now();
    stats.bytes += bytes;
    window.push({ t, bytes });
    prune(t);
  }

  function prune(t: number): void {
    while (window.length > 0 && t - (window[0] as { t: number }).t > BITRATE_WINDOW_MS) window.shift();
  }

  function bitrate(): number {
    const t = init.now();
    prune(t);
    // Over the window, or over the session's age while it is younger (at least 1 s).
    const span = Math.min(BITRATE_WINDOW_MS, Math.max(1000, t - startedAt));
    const total = window.reduce((sum, s) => sum + s.bytes, 0);
    return Math.round((total * 8000) / span);
  }

  function emitTag(type: 8 | 9 | 18, timestamp: number, body: Buffer): void {
    if (!headerSent) {
      headerSent = true;
      events.emit('data', flvHeader(headerFlags));
    }
    events.emit('data', flvTag(type, timestamp, body));
  }

  function reject(detail: string): void {
    init.log.warn({ session: init.id, channel: init.channel, peer: init.peer }, detail);
    self.terminate('unsupported-codec', detail);
  }

  function video(timestamp: number, body: Buffer): void {
    const info = parseVideoTagHeader(body);
    if (info.fourCc !== null || info.codecId !== FLV_VIDEO_CODEC_AVC) {
      reject(`video codec ${videoCodecName(info)} is not supported: publish H.264`);
      return;
    }
    if (info.frameType === 5) return; // video info/command frame: nothing to demux
    stats.videoCodec = 'h264';
    stats.lastMediaAt = init.now();
    stats.lastTimestamp = timestamp;
    if (info.avcPacketType === 1) {
      stats.videoFrames++;
      if (info.frameType === 1) stats.keyFrames++;
    }
    emitTag(FLV_TAG.video, timestamp, body);
  }

  function audio(timestamp: number, body: Buffer): void {
    const info = parseAudioTagHeader(body);
    if (info.codec === null) {
      reject(`audio codec ${soundFormatName(info.soundFormat)} is not supported: publish AAC`);
      return;
    }
    stats.audioCodec = info.codec;
    stats.lastMediaAt = init.now();
    stats.lastTimestamp = timestamp;
    if (info.aacPacketType === 1 || (info.aacPacketType === null && body.length > 1)) stats.audioFrames++;
    emitTag(FLV_TAG.audio, timestamp, body);
  }

  function data(timestamp: number, body: Buffer): void {
    const script = scriptDataFromMessage(body);
    if (!script || script.name !== 'onMetaData') return;
    const meta = script.value !== null && typeof script.value === 'object' ? (script.value as Record<string, unknown>) : {};
    if (!headerSent && ('audiocodecid' in meta || 'videocodecid' in meta)) {
      headerFlags = { audio: 'audiocodecid' in meta, video: 'videocodecid' in meta };
    }
    events.emit('metadata', meta);
    emitTag(FLV_TAG.script, timestamp, script.body);
  }

  function one(typeId: number, timestamp: number, payload: Buffer): void {
    if (closed || payload.length === 0) return;
    count(payload.length);
    if (typeId === MSG.video) video(timestamp, payload);
    else if (typeId === MSG.audio) audio(timestamp, payload);
    else if (typeId === MSG.dataAmf0) data(timestamp, payload);
  }

  const self: PublishSession = {
    id: init.id,
    app: init.app,
    streamKey: init.streamKey,
    channel: init.channel,
    peer: init.peer,
    role: init.role ?? 'primary',
    // A backup publishes beside its channel's primary: its own route, so neither replaces the other.
    route: `${init.channel ?? init.streamKey}${init.role === 'backup' ? '#backup' : ''}`,
    streamId: init.streamId,
    get closed() { return closed; },
    on: (event, fn) => events.on(event, fn),
    off: (event, fn) => events.off(event, fn),
    stats: () => ({ ...stats, bitrate: bitrate() }),
    close: () => self.terminate('closed', 'closed by the server'),
    media(typeId, timestamp, payload) {
      if (typeId === MSG.aggregate) {
        for (const part of splitAggregate({ chunkStreamId: 0, timestamp, typeId, streamId: init.streamId, payload })) {
          one(part.typeId, part.timestamp, part.payload);
        }
        return;
      }
      one(typeId, timestamp, payload);
    },
    end(reason, detail) {
      if (closed) return;
      closed = true;
      init.log.info({ session: init.id, channel: init.channel, reason, detail, bytes: stats.bytes }, 'rtmp publish ended');
      events.emit('close', reason, detail);
      events.removeAll();
    },
    terminate(reason, detail) {
      if (!closed) init.terminate(reason, detail);
    },
  };
  return self;
}
