/**
 * Pure: the parts of a WHEP/WHIP SDP offer Beamline needs (RFC 8866 / RFC 8829 shapes), read defensively:
 * the offer is unauthenticated input (WHEP) or a publisher's (WHIP), so its size and line count are bounded
 * and anything malformed is a 400 naming what is wrong, before any native code sees it.
 */

import { BeamError, badRequest } from '../core/model/errors';

export const MAX_SDP_BYTES = 32 * 1024;
const MAX_LINES = 1000;
const MAX_SECTIONS = 16;

export interface OfferCodec {
  payloadType: number;
  name: string;
  clockRate: number;
  fmtp: string;
}

export interface OfferMedia {
  kind: 'audio' | 'video' | 'application' | 'other';
  mid: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  codecs: OfferCodec[];
  /** The port on the m= line is 0: the section is rejected/unused. */
  disabled: boolean;
}

export interface Offer {
  media: OfferMedia[];
}

/** Parses an SDP offer; throws a 400 BeamError when it is not one Beamline can answer. */
export function parseOffer(sdp: unknown): Offer {
  if (typeof sdp !== 'string' || sdp.length === 0) throw badRequest('The body must be an SDP offer (Content-Type: application/sdp).');
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) throw badRequest(`The SDP offer is larger than ${MAX_SDP_BYTES} bytes.`);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > MAX_LINES) throw badRequest(`The SDP offer has more than ${MAX_LINES} lines.`);
  if (lines[0] !== 'v=0') throw badRequest('The body is not an SDP offer: it must begin with v=0.');
  for (const l of lines) {
    if (!/^[a-z]=/.test(l)) throw badRequest(`Malformed SDP line: ${JSON.stringify(l.slice(0, 60))}.`);
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(l)) throw badRequest('The SDP offer holds control characters.');
  }
  if (!lines.some((l) => l.startsWith('o='))) throw badRequest('The SDP offer has no o= line.');
  const media: OfferMedia[] = [];
  let current: (OfferMedia & { rtpmap: Map<number, { name: string; clockRate: number }>; fmtps: Map<number, string>; pts: number[] }) | null = null;
  let sessionDirection: OfferMedia['direction'] = 'sendrecv';
  const finish = () => {
    if (!current) return;
    current.codecs = current.pts
      .filter((pt) => current!.rtpmap.has(pt))
      .map((pt) => ({ payloadType: pt, ...current!.rtpmap.get(pt)!, fmtp: current!.fmtps.get(pt) ?? '' }));
    const { rtpmap: _r, fmtps: _f, pts: _p, ...m } = current;
    media.push(m);
    current = null;
  };
  for (const l of lines) {
    if (l.startsWith('m=')) {
      finish();
      if (media.length >= MAX_SECTIONS) throw badRequest(`The SDP offer has more than ${MAX_SECTIONS} media sections.`);
      const m = /^m=(\w+) (\d+)(?:\/\d+)? ([\w/]+)((?: [\w-]+)*)$/.exec(l);
      if (!m) throw badRequest(`Malformed SDP media line: ${JSON.stringify(l.slice(0, 60))}.`);
      const kind = m[1] === 'audio' || m[1] === 'video' || m[1] === 'application' ? m[1] : 'other';
      const pts = (m[4] ?? '').trim().split(' ').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n <= 127);
      current = { kind, mid: '', direction: sessionDirection, codecs: [], disabled: m[2] === '0', rtpmap: new Map(), fmtps: new Map(), pts };
      continue;
    }
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l);
    if (dir) {
      if (current) current.direction = dir[1] as OfferMedia['direction'];
      else sessionDirection = dir[1] as OfferMedia['direction'];
      continue;
    }
    if (!current) continue;
    let a: RegExpExecArray | null;
    if ((a = /^a=mid:(\S{1,32})$/.exec(l))) current.mid = a[1] as string;
    else if ((a = /^a=rtpmap:(\d{1,3}) ([\w.-]{1,32})\/(\d{1,6})/.exec(l))) current.rtpmap.set(Number(a[1]), { name: (a[2] as string).toLowerCase(), clockRate: Number(a[3]) });
    else if ((a = /^a=fmtp:(\d{1,3}) (.{0,512})$/.exec(l))) current.fmtps.set(Number(a[1]), a[2] as string);
  }
  finish();
  if (media.length === 0) throw badRequest('The SDP offer has no media sections.');
  for (const m of media) {
    if (!m.disabled && m.kind !== 'other' && !m.mid) throw badRequest(`The SDP offer's ${m.kind} section has no a=mid (BUNDLE needs one).`);
  }
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:'))) throw badRequest('The SDP offer has no a=ice-ufrag.');
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw badRequest('The SDP offer has no a=fingerprint (DTLS-SRTP is required).');
  return { media };
}

function fmtpValue(fmtp: string, key: string): string | null {
  for (const kv of fmtp.split(';')) {
    const [k, v] = kv.trim().split('=');
    if (k?.toLowerCase() === key) return v ?? '';
  }
  return null;
}

/**
 * The H.264 payload type to use: packetization-mode=1 (FU-A; mode 0 cannot carry a 1080p keyframe), preferring
 * the offer's entry for the stream's profile (`profile_idc`), then Constrained Baseline, then any. Null: none.
 */
export function chooseH264(m: OfferMedia, profileIdc: number | null): OfferCodec | null {
  const h264 = m.codecs.filter((c) => c.name === 'h264' && c.clockRate === 90000 && fmtpValue(c.fmtp, 'packetization-mode') === '1');
  if (h264.length === 0) return null;
  const idc = (c: OfferCodec) => parseInt((fmtpValue(c.fmtp, 'profile-level-id') ?? '').slice(0, 2), 16);
  if (profileIdc !== null) {
    const same = h264.find((c) => idc(c) === profileIdc);
    if (same) return same;
  }
  return h264.find((c) => idc(c) === 0x42) ?? (h264[0] as OfferCodec);
}

/** The Opus payload type (48 kHz, as RFC 7587 requires), or null. */
export function chooseOpus(m: OfferMedia): OfferCodec | null {
  return m.codecs.find((c) => c.name === 'opus' && c.clockRate === 48000) ?? null;
}

/** Largest trickle-ICE fragment (PATCH body) read, bytes; candidates read from one fragment at most. */
export const MAX_TRICKLE_BYTES = 16384;
const MAX_TRICKLE_CANDIDATES = 32;

/**
 * Pure: the candidates of an `application/trickle-ice-sdpfrag` body (RFC 8840), each with the mid of the section
 * it follows ('0' before any a=mid). At most 32; throws a 413 BeamError over MAX_TRICKLE_BYTES.
 */
export function trickleCandidates(fragment: string): { candidate: string; mid: string }[] {
  if (fragment.length > MAX_TRICKLE_BYTES) throw new BeamError('BEAM_ERR_PAYLOAD_TOO_LARGE', `The ICE fragment is larger than ${MAX_TRICKLE_BYTES} bytes.`);
  const out: { candidate: string; mid: string }[] = [];
  let mid = '0';
  for (const line of fragment.split(/\r?\n/)) {
    const m = /^a=mid:(\S{1,32})$/.exec(line);
    if (m) mid = m[1] as string;
    const c = /^a=(candidate:.{1,400})$/.exec(line);
    if (c && out.length < MAX_TRICKLE_CANDIDATES) out.push({ candidate: c[1] as string, mid });
  }
  return out;
}
