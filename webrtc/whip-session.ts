/**
 * One WHIP publisher (draft-ietf-wish-whip): a libdatachannel peer connection answering the encoder's offer with
 * receive-only H.264 (packetization-mode 1) and Opus when offered. RTP is depacketised here
 * (rtp-depacketizer.ts) into access units and Opus frames, timed from the RTP timestamps (90 kHz video, 48 kHz
 * Opus) and muxed into MPEG-TS (whip-ts.ts): the bytes the ingest pipeline demuxes from SRT publishers, handed
 * over as a PushedPublisher (core/model/publish-intake.ts). Audio and video are aligned by first-packet
 * anchoring: each stream's first RTP timestamp is placed at the wall-clock time its first packet arrived.
 * Nothing is written before the first keyframe (with its SPS/PPS); the publisher is asked for one (PLI) at
 * the start and after a loss, at most once a second.
 */

import { randomBytes } from 'node:crypto';
import * as ndc from 'node-datachannel';
import { badRequest } from '../core/model/errors';
import type { PushedPublisher } from '../core/model/publish-intake';
import { chooseH264, chooseOpus, type Offer } from './sdp-offer';
import { isRtcp } from './rtcp';
import { NAL_PPS, NAL_SPS, toAnnexB } from './h264-frames';
import { createH264Depacketizer, createTimestampUnwrapper, parseRtp, type H264AccessUnit, type RtpPacket } from './rtp-depacketizer';
import { buildNack, createRtpReorder } from './rtp-reorder';
import { createWhipTsWriter } from './whip-ts';
import { gathered, type WhepSessionLog } from './whep-session';
import { holdTrack } from './rtc-lifetime';

export interface WhipSessionConfig {
  rtc: ndc.RtcConfig;
  gatherTimeoutMs: number;
  /** A publisher not connected within this time is closed, ms. */
  connectTimeoutMs: number;
  /** A publisher that sends no media for this long is closed, ms. */
  idleTimeoutMs: number;
}

export interface WhipSessionStats {
  state: string;
  videoPackets: number;
  audioPackets: number;
  accessUnits: number;
  droppedAccessUnits: number;
  keyframeRequests: number;
  bytesOut: number;
  /** Video packets asked for again (RTCP NACK), gaps filled by late or resent packets, gaps given up. */
  nacked: number;
  recovered: number;
  lostPackets: number;
}

export interface WhipSession {
  readonly id: string;
  readonly channel: string;
  /** The publisher's media for the ingest. */
  readonly source: PushedPublisher;
  readonly closed: Promise<string>;
  /** Resolves once the peer connection is connected (media can flow); never, for one that ends before. */
  readonly connected: Promise<void>;
  close(reason: string): void;
  addRemoteCandidate(candidate: string, mid: string): void;
  stats(): WhipSessionStats;
}

/** How often gaps in the video are asked for and given up, ms. */
const REORDER_TICK_MS = 20;
/** The SSRC our RTCP feedback is sent from (we send no media on a WHIP connection). */
const RECEIVER_SSRC = 1;

/** Media time of the stream's start, 90 kHz: room before it for a publisher whose streams start apart. */
const BASE_PTS = 90000;
/** Bytes kept for the ingest before it listens (it attaches at once; a bound all the same). */
const MAX_EARLY_BYTES = 4 * 1024 * 1024;

const sending = (d: string) => d === 'sendonly' || d === 'sendrecv';

export async function startWhipSession(
  deps: { log: WhepSessionLog; now?: () => number },
  config: WhipSessionConfig,
  channel: string,
  peer: string,
  offer: Offer,
  offerSdp: string,
): Promise<{ session: WhipSession; answer: string }> {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const videoM = offer.media.find((m) => m.kind === 'video' && !m.disabled && sending(m.direction));
  if (!videoM) throw badRequest('The WHIP offer has no video section that sends (a=sendonly or a=sendrecv): Beamline needs H.264 video.');
  const h264 = chooseH264(videoM, null);
  if (!h264) throw badRequest('The WHIP offer has no H.264 video with packetization-mode=1: set the encoder to H.264 (x264, NVENC, QuickSync…).');
  const audioM = offer.media.find((m) => m.kind === 'audio' && !m.disabled && sending(m.direction));
  const opus = audioM ? chooseOpus(audioM) : null;

  const id = randomBytes(12).toString('base64url');
  const pc = new ndc.PeerConnection(`whip-${id}`, config.rtc);
  const v = new ndc.Video(videoM.mid, 'RecvOnly');
  v.addH264Codec(h264.payloadType, h264.fmtp || undefined);
  const videoTrack = holdTrack(pc.addTrack(v));
  // The tracks and their handlers stay referenced for the session's life (released at its end): once the JS
  // wrapper of a track is garbage-collected, libdatachannel stops delivering its packets (seen: audio stopping
  // after a second while video, referenced elsewhere, went on).
  const handlers: ndc.RtcpReceivingSession[] = [new ndc.RtcpReceivingSession()];
  videoTrack.setMediaHandler(handlers[0] as ndc.RtcpReceivingSession);
  let audioTrack: ndc.Track | null = null;
  if (audioM && opus) {
    const a = new ndc.Audio(audioM.mid, 'RecvOnly');
    a.addOpusCodec(opus.payloadType, opus.fmtp || undefined);
    audioTrack = holdTrack(pc.addTrack(a));
    const h = new ndc.RtcpReceivingSession();
    handlers.push(h);
    audioTrack.setMediaHandler(h);
  }

  const tracks: (ndc.Track | null)[] = [videoTrack, audioTrack];
  /** What the session counts itself; the depacketiser's and the reorder buffer's counts are read when asked (`current()`). */
  const stats: Omit<WhipSessionStats, 'droppedAccessUnits' | 'nacked' | 'recovered' | 'lostPackets'> = { state: 'new', videoPackets: 0, audioPackets: 0, accessUnits: 0, keyframeRequests: 0, bytesOut: 0 };
  const current = (): WhipSessionStats => {
    const r = reorder.stats();
    return { ...stats, droppedAccessUnits: depacketizer.stats().dropped, nacked: r.nacked, recovered: r.recovered, lostPackets: r.lost };
  };
  const reorder = createRtpReorder();
  /** The publisher's video SSRC, which NACKs name. */
  let videoSsrc: number | null = null;
  const ts = createWhipTsWriter({ audioChannels: audioTrack ? 2 : null });
  const depacketizer = createH264Depacketizer();
  const videoClock = createTimestampUnwrapper();
  const audioClock = createTimestampUnwrapper();
  /** Wall-clock time of the first media packet; each stream's offset from it, 90 kHz. */
  let t0: number | null = null;
  let videoOffset: number | null = null;
  let audioOffset: number | null = null;
  let needKeyframe = true;
  let started = false;
  let lastPli = -Infinity;
  let lastVideoPts: number | null = null;
  let lastMedia = now();
  let sps: Buffer | null = null;
  let pps: Buffer | null = null;

  const dataFns: ((chunk: Buffer) => void)[] = [];
  const closeFns: ((reason: string) => void)[] = [];
  let early: Buffer[] = [];
  let earlyBytes = 0;
  let ended = false;
  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => (resolveConnected = r));

  function emit(chunk: Buffer): void {
    if (chunk.length === 0 || ended) return;
    stats.bytesOut += chunk.length;
    if (dataFns.length === 0) {
      if (earlyBytes + chunk.length > MAX_EARLY_BYTES) return;
      early.push(chunk);
      earlyBytes += chunk.length;
      return;
    }
    for (const fn of dataFns) fn(chunk);
  }

  /** Ends the session; `byPeer`: the connection ended by itself (the ingest hears it through onClose). */
  function end(reason: string, byPeer: boolean): void {
    if (ended) return;
    ended = true;
    clearTimeout(connectTimer);
    clearInterval(idleTimer);
    clearInterval(reorderTimer);
    if (disconnectTimer) clearTimeout(disconnectTimer);
    try {
      pc.close();
    } catch {
      // already closed by libdatachannel
    }
    if (byPeer) for (const fn of closeFns) fn(reason);
    resolveClosed(reason);
    handlers.length = 0;
    tracks.length = 0;
  }

  function askKeyframe(): void {
    const t = now();
    if (t - lastPli < 1000) return;
    lastPli = t;
    try {
      if (videoTrack.isOpen() && videoTrack.requestKeyframe()) stats.keyframeRequests++;
    } catch {
      // the track closed meanwhile
    }
  }

  function offsetNow(): number {
    const t = now();
    t0 ??= t;
    return (t - t0) * 90;
  }

  function onAccessUnit(au: H264AccessUnit): void {
    for (const n of au.nals) {
      const type = (n[0] as number) & 0x1f;
      if (type === NAL_SPS) sps = Buffer.from(n);
      else if (type === NAL_PPS) pps = Buffer.from(n);
    }
    if (needKeyframe) {
      if (!au.keyframe || !sps || !pps) {
        askKeyframe();
        return;
      }
      needKeyframe = false;
    }
    let nals = au.nals;
    if (au.keyframe && sps && pps) {
      const types = new Set(nals.map((n) => (n[0] as number) & 0x1f));
      if (!types.has(NAL_SPS) || !types.has(NAL_PPS)) nals = [sps, pps, ...nals.filter((n) => { const t = (n[0] as number) & 0x1f; return t !== NAL_SPS && t !== NAL_PPS; })];
    }
    const pts = BASE_PTS + (videoOffset ?? 0) + videoClock(au.timestamp);
    if (lastVideoPts !== null && pts < lastVideoPts) {
      // Presentation order differs from decode order: B-frames, whose decode times RTP does not carry.
      end('refused: the video has B-frames, which WHIP ingest does not take; set the encoder to bframes=0', true);
      return;
    }
    lastVideoPts = pts;
    stats.accessUnits++;
    started = true;
    emit(ts.video(toAnnexB(nals), pts, au.keyframe));
  }

  const connectTimer = setTimeout(() => end('connection lost: the publisher did not connect in time', true), config.connectTimeoutMs);
  connectTimer.unref();
  const idleTimer = setInterval(() => {
    if (now() - lastMedia > config.idleTimeoutMs && stats.state === 'connected') end(`idle: no media for ${Math.round(config.idleTimeoutMs / 1000)} s`, true);
  }, 1000);
  idleTimer.unref();
  let disconnectTimer: NodeJS.Timeout | null = null;

  /** A video packet in sequence order (after the reorder buffer). */
  function onVideoPacket(p: RtpPacket): void {
    const before = depacketizer.stats().gaps;
    for (const au of depacketizer.push(p)) onAccessUnit(au);
    if (depacketizer.stats().gaps > before) {
      // A lost packet: its access unit was dropped; what follows may refer to it, so wait for a keyframe.
      needKeyframe = true;
      askKeyframe();
    } else if (needKeyframe && stats.videoPackets === 1) askKeyframe();
  }

  videoTrack.onMessage((msg) => {
    if (ended || isRtcp(msg)) return;
    const p = parseRtp(msg);
    if (!p || p.payloadType !== h264.payloadType) return;
    stats.videoPackets++;
    lastMedia = now();
    videoSsrc = p.ssrc;
    if (videoOffset === null) {
      videoOffset = offsetNow();
      videoClock(p.timestamp);
    }
    for (const q of reorder.push(p, now())) onVideoPacket(q);
  });
  // Gaps: asked for again while they may still come, given up after the hold (then the depacketiser sees them).
  const reorderTimer = setInterval(() => {
    if (ended) return;
    const { released, nack } = reorder.tick(now());
    for (const q of released) onVideoPacket(q);
    if (nack.length > 0 && videoSsrc !== null) {
      try {
        if (videoTrack.isOpen()) videoTrack.sendMessageBinary(buildNack(RECEIVER_SSRC, videoSsrc, nack));
      } catch {
        // the track closed meanwhile
      }
    }
  }, REORDER_TICK_MS);
  reorderTimer.unref();

  audioTrack?.onMessage((msg) => {
    if (ended || isRtcp(msg) || !opus) return;
    const p = parseRtp(msg);
    if (!p || p.payloadType !== opus.payloadType || p.payload.length === 0) return;
    stats.audioPackets++;
    lastMedia = now();
    if (audioOffset === null) {
      audioOffset = offsetNow();
      audioClock(p.timestamp);
    }
    const ticks = audioClock(p.timestamp);
    if (!started) return; // audio before the first keyframe has no picture to go with
    emit(ts.audio(Buffer.from(p.payload), BASE_PTS + audioOffset + Math.round((ticks * 90000) / 48000)));
  });

  pc.onStateChange((state) => {
    stats.state = state;
    if (state === 'connected') {
      clearTimeout(connectTimer);
      if (disconnectTimer) clearTimeout(disconnectTimer);
      disconnectTimer = null;
      lastMedia = now();
      resolveConnected();
      askKeyframe();
    } else if (state === 'disconnected') {
      disconnectTimer ??= setTimeout(() => end('connection lost: the publisher disconnected', true), 5000);
    } else if (state === 'failed' || state === 'closed') {
      setImmediate(() => end(`connection lost: peer connection ${state}`, true));
    }
  });

  let answer: string;
  try {
    try {
      pc.setRemoteDescription(offerSdp, 'offer');
    } catch (err) {
      throw badRequest(`The SDP offer was refused: ${(err as Error).message}`);
    }
    answer = await gathered(pc, config.gatherTimeoutMs);
  } catch (err) {
    end('negotiation failed', false);
    throw err;
  }

  const source: PushedPublisher = {
    protocol: 'whip',
    peer,
    format: 'mpegts',
    onData(fn) {
      dataFns.push(fn);
      const held = early;
      early = [];
      earlyBytes = 0;
      for (const c of held) fn(c);
    },
    onClose(fn) {
      closeFns.push(fn);
    },
    close(reason) {
      end(reason, false);
    },
    rtpStats: () => {
      const c = current();
      return { nacked: c.nacked, recovered: c.recovered, lostPackets: c.lostPackets, keyframeRequests: c.keyframeRequests, droppedAccessUnits: c.droppedAccessUnits };
    },
  };
  log.info({ channel, session: id, h264: h264.payloadType, opus: opus?.payloadType ?? null }, 'WHIP publisher');
  return {
    answer,
    session: { id, channel, source, closed, connected, close: (reason) => end(reason, true), addRemoteCandidate: (candidate, mid) => pc.addRemoteCandidate(candidate, mid), stats: current },
  };
}
