/**
 * One WHEP viewer: a libdatachannel peer connection answering the browser's offer with send-only H.264 (and
 * Opus when the channel has audio), fed from the channel feed. libdatachannel packetises (H.264 FU-A/STAP-A,
 * RFC 6184; Opus one frame per packet), sends sender reports, and answers NACKs from its retransmission
 * buffer; keyframe requests (PLI/FIR) are answered here by sending from the next keyframe on. A viewer starts
 * at a keyframe, never with a backlog: bursting a GOP would put the browser's jitter buffer that far behind.
 */

import { randomBytes, randomInt } from 'node:crypto';
import * as ndc from 'node-datachannel';
import { badRequest } from '../core/model/errors';
import type { ChannelFeed, FeedFrame } from './channel-feed';
import { chooseH264, chooseOpus, type Offer } from './sdp-offer';
import { parseRtcpFeedback } from './rtcp';
import { TIMELINE_HZ } from '../core/model/live';
import { holdTrack } from './rtc-lifetime';

export interface WhepSessionLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WhepSessionConfig {
  rtc: ndc.RtcConfig;
  /** Longest wait for ICE gathering before answering, ms. */
  gatherTimeoutMs: number;
  /** A viewer not connected within this time is closed, ms. */
  connectTimeoutMs: number;
}

export interface WhepSessionStats {
  state: string;
  framesSent: number;
  keyframeRequests: number;
  nacks: number;
  bytesSent: number;
}

export interface WhepSession {
  readonly id: string;
  readonly content: string;
  /** Resolves with the reason once the session has ended. */
  readonly closed: Promise<string>;
  close(reason: string): void;
  addRemoteCandidate(candidate: string, mid: string): void;
  stats(): WhepSessionStats;
}

const TICKS_AUDIO = 48000 / TIMELINE_HZ;

/** Waits for libdatachannel to finish gathering (or the timeout), then returns the local description. */
export function gathered(pc: ndc.PeerConnection, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      const d = pc.localDescription();
      if (d?.sdp) resolve(d.sdp);
      else reject(new Error('no local description'));
    };
    const timer = setTimeout(done, timeoutMs);
    pc.onGatheringStateChange((s) => {
      if (s === 'complete') done();
    });
    if (pc.gatheringState() === 'complete') done();
  });
}

export async function startWhepSession(
  deps: { feed: ChannelFeed; log: WhepSessionLog },
  config: WhepSessionConfig,
  offer: Offer,
  offerSdp: string,
): Promise<{ session: WhepSession; answer: string }> {
  const { feed, log } = deps;
  const info = feed.info();
  const videoM = offer.media.find((m) => m.kind === 'video' && !m.disabled && (m.direction === 'recvonly' || m.direction === 'sendrecv'));
  if (!videoM) throw badRequest('The offer has no video section that can receive (a=recvonly or a=sendrecv).');
  const h264 = chooseH264(videoM, info.profileIdc);
  if (!h264) throw badRequest('The offer does not accept H.264 with packetization-mode=1.');
  const audioM = offer.media.find((m) => m.kind === 'audio' && !m.disabled && (m.direction === 'recvonly' || m.direction === 'sendrecv'));
  const opus = audioM && info.hasAudio ? chooseOpus(audioM) : null;

  const id = randomBytes(12).toString('base64url');
  const pc = new ndc.PeerConnection(`whep-${id}`, config.rtc);
  const cname = `beamline-${id.slice(0, 8)}`;
  const msid = `beamline-${feed.content}`;

  const videoSsrc = randomInt(1, 2 ** 31);
  const v = new ndc.Video(videoM.mid, 'SendOnly');
  v.addH264Codec(h264.payloadType, h264.fmtp || undefined);
  v.addSSRC(videoSsrc, cname, msid, 'video');
  const videoTrack = holdTrack(pc.addTrack(v));
  const videoRtp = new ndc.RtpPacketizationConfig(videoSsrc, cname, h264.payloadType, 90000);
  const videoPacketizer = new ndc.H264RtpPacketizer('LongStartSequence', videoRtp, 1200);
  videoPacketizer.addToChain(new ndc.RtcpSrReporter(videoRtp));
  videoPacketizer.addToChain(new ndc.RtcpNackResponder(2048));
  videoTrack.setMediaHandler(videoPacketizer);

  let audioTrack: ndc.Track | null = null;
  let audioRtp: ndc.RtpPacketizationConfig | null = null;
  if (audioM && opus) {
    const audioSsrc = randomInt(1, 2 ** 31);
    const a = new ndc.Audio(audioM.mid, 'SendOnly');
    a.addOpusCodec(opus.payloadType, opus.fmtp || undefined);
    a.addSSRC(audioSsrc, cname, msid, 'audio');
    audioTrack = holdTrack(pc.addTrack(a));
    audioRtp = new ndc.RtpPacketizationConfig(audioSsrc, cname, opus.payloadType, 48000);
    const audioPacketizer = new ndc.RtpPacketizer(audioRtp);
    audioPacketizer.addToChain(new ndc.RtcpSrReporter(audioRtp));
    audioPacketizer.addToChain(new ndc.RtcpNackResponder(512));
    audioTrack.setMediaHandler(audioPacketizer);
  }

  const stats: WhepSessionStats = { state: 'new', framesSent: 0, keyframeRequests: 0, nacks: 0, bytesSent: 0 };
  let needKeyframe = true;
  let ended = false;
  let unsubscribe: (() => void) | null = null;
  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((r) => (resolveClosed = r));
  let disconnectTimer: NodeJS.Timeout | null = null;

  function close(reason: string): void {
    if (ended) return;
    ended = true;
    unsubscribe?.();
    clearTimeout(connectTimer);
    if (disconnectTimer) clearTimeout(disconnectTimer);
    try {
      stats.bytesSent = pc.bytesSent();
      pc.close();
    } catch {
      // already closed by libdatachannel
    }
    resolveClosed(reason);
  }

  const connectTimer = setTimeout(() => close('not connected in time'), config.connectTimeoutMs);
  connectTimer.unref();

  videoTrack.onMessage((msg) => {
    const fb = parseRtcpFeedback(msg);
    stats.nacks += fb.nacks;
    if (fb.keyframe) {
      stats.keyframeRequests++;
      needKeyframe = true;
    }
  });
  pc.onStateChange((state) => {
    stats.state = state;
    if (state === 'connected') {
      clearTimeout(connectTimer);
      if (disconnectTimer) clearTimeout(disconnectTimer);
      disconnectTimer = null;
    } else if (state === 'disconnected') {
      // ICE may come back (a network change); a viewer gone for 5 s is closed.
      disconnectTimer ??= setTimeout(() => close('viewer disconnected'), 5000);
    } else if (state === 'failed' || state === 'closed') {
      setImmediate(() => close(`peer connection ${state}`));
    }
  });

  function onFrame(f: FeedFrame): void {
    if (ended) return;
    if (f.kind === 'video') {
      if (!videoTrack.isOpen()) return;
      if (needKeyframe) {
        if (!f.keyframe) return;
        needKeyframe = false;
      }
      videoRtp.timestamp = f.pts >>> 0;
      videoTrack.sendMessageBinary(f.data);
      stats.framesSent++;
    } else if (audioTrack && audioRtp && audioTrack.isOpen() && !needKeyframe) {
      audioRtp.timestamp = Math.round(f.pts * TICKS_AUDIO) >>> 0;
      audioTrack.sendMessageBinary(f.data);
    }
  }

  let answer: string;
  try {
    try {
      pc.setRemoteDescription(offerSdp, 'offer');
    } catch (err) {
      throw badRequest(`The SDP offer was refused: ${(err as Error).message}`);
    }
    answer = await gathered(pc, config.gatherTimeoutMs);
  } catch (err) {
    close('negotiation failed');
    throw err;
  }
  unsubscribe = feed.subscribe(onFrame);
  log.info({ content: feed.content, session: id, h264: h264.payloadType, opus: opus?.payloadType ?? null }, 'WHEP viewer');

  return {
    answer,
    session: {
      id,
      content: feed.content,
      closed,
      close,
      addRemoteCandidate(candidate, mid) {
        pc.addRemoteCandidate(candidate, mid);
      },
      stats: () => ({ ...stats, bytesSent: ended ? stats.bytesSent : safe(() => pc.bytesSent(), 0) }),
    },
  };
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
