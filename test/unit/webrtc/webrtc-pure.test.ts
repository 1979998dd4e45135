/** The WebRTC role's pure parts: SDP offer checks and codec choice, RTCP feedback, H.264 access units, ICE config, public WHEP writes. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { BeamError } from '../../../core/model/errors';
import { chooseH264, chooseOpus, parseOffer, MAX_SDP_BYTES } from '../../../webrtc/sdp-offer';
import { isRtcp, parseRtcpFeedback } from '../../../webrtc/rtcp';
import { accessUnit, parameterSetsOf, splitAnnexB, nalType } from '../../../webrtc/h264-frames';
import { rtcConfigOf, DEFAULT_WEBRTC_CONFIG } from '../../../webrtc/rtc-config';
import { isWhepWrite } from '../../../webrtc/webrtc-plugin';

const OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef012345', 'a=fingerprint:sha-256 AA:BB',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 102 106', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=recvonly',
  'a=rtpmap:96 VP8/90000', 'a=rtpmap:102 H264/90000', 'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:106 H264/90000', 'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:1', 'a=recvonly', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', '',
].join('\r\n');

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BeamError, String(e));
    return e.statusCode;
  }
  return 0;
}

describe('SDP offer', () => {
  it('reads sections, directions and codecs', () => {
    const o = parseOffer(OFFER);
    assert.deepEqual(o.media.map((m) => [m.kind, m.mid, m.direction]), [['video', '0', 'recvonly'], ['audio', '1', 'recvonly']]);
    const video = o.media[0]!;
    assert.equal(chooseH264(video, 100)?.payloadType, 106, 'the profile of the stream when offered');
    assert.equal(chooseH264(video, 77)?.payloadType, 102, 'else constrained baseline');
    assert.equal(chooseOpus(o.media[1]!)?.payloadType, 111);
  });
  const bad: [string, unknown][] = [
    ['not a string', 42],
    ['empty', ''],
    ['no v=0', 'hello'],
    ['too large', 'v=0\r\n' + 'a=x\r\n'.repeat(MAX_SDP_BYTES / 4)],
    ['garbage line', OFFER.replace('s=-', 'garbage')],
    ['no media', OFFER.split('m=video')[0]],
    ['no mid', OFFER.replace('a=mid:0\r\n', '')],
    ['no ice-ufrag', OFFER.replace(/a=ice-ufrag:.*\r\n/, '')],
    ['no fingerprint (no DTLS)', OFFER.replace(/a=fingerprint:.*\r\n/, '')],
    ['control characters', OFFER.replace('s=-', 's=\u0001')],
    ['malformed m= line', OFFER.replace('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=audio nine')],
    ['17 sections', OFFER + 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:x\r\n'.repeat(16)],
  ];
  for (const [name, sdp] of bad) it(`refuses with 400: ${name}`, () => assert.equal(status(() => parseOffer(sdp)), 400));
  it('has no H.264 choice without packetization-mode=1', () => {
    const o = parseOffer(OFFER.replace(/packetization-mode=1/g, 'packetization-mode=0'));
    assert.equal(chooseH264(o.media[0]!, null), null);
  });
});

describe('RTCP feedback', () => {
  const rtcp = (pt: number, fmt: number, words = 2) => {
    const b = Buffer.alloc((words + 1) * 4);
    b[0] = 0x80 | fmt;
    b[1] = pt;
    b.writeUInt16BE(words, 2);
    return b;
  };
  it('finds PLI, FIR and NACK in a compound packet', () => {
    const fb = parseRtcpFeedback(Buffer.concat([rtcp(201, 1, 7), rtcp(206, 1), rtcp(205, 1, 3)]));
    assert.deepEqual(fb, { keyframe: true, nacks: 1, reports: 1 });
    assert.equal(parseRtcpFeedback(rtcp(206, 4, 4)).keyframe, true);
    assert.equal(isRtcp(rtcp(206, 1)), true);
  });
  it('ignores truncated, non-RTCP and RTP input', () => {
    assert.deepEqual(parseRtcpFeedback(rtcp(206, 1).subarray(0, 8)), { keyframe: false, nacks: 0, reports: 0 });
    assert.deepEqual(parseRtcpFeedback(Buffer.from([0x40, 206, 0, 0])), { keyframe: false, nacks: 0, reports: 0 });
    assert.equal(isRtcp(Buffer.from([0x80, 96, 0, 1])), false);
  });
});

describe('H.264 access units', () => {
  const sps = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac]);
  const pps = Buffer.from([0x68, 0xee, 0x3c, 0x80]);
  const idr = Buffer.from([0x65, 0x88, 0x84, 0x00]);
  const aud = Buffer.from([0x09, 0xf0]);
  const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
  const avcC = Buffer.concat([Buffer.from([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, pps.length]), pps]);
  it('puts the extradata parameter sets before a keyframe from FLV (length-prefixed)', () => {
    const ps = parameterSetsOf(avcC);
    assert.equal(ps.lengthSize, 4);
    const sample = Buffer.concat([Buffer.from([0, 0, 0, idr.length]), idr]);
    const au = accessUnit(sample, true, ps)!;
    assert.deepEqual(splitAnnexB(au).map(nalType), [7, 8, 5]);
  });
  it('keeps in-band parameter sets once and drops AUDs (MPEG-TS)', () => {
    const au = accessUnit(annexB(aud, sps, pps, idr), true, parameterSetsOf(annexB(sps, pps)))!;
    assert.deepEqual(splitAnnexB(au).map(nalType), [7, 8, 5]);
    assert.equal(accessUnit(annexB(aud), false, parameterSetsOf(null)), null);
  });
  it('survives malformed extradata and samples', () => {
    assert.deepEqual(parameterSetsOf(Buffer.from([1, 2, 3, 4, 5, 6, 0xe5, 0xff])).sps, []);
    assert.equal(accessUnit(Buffer.from([0, 0, 0, 99, 1]), false, parameterSetsOf(null)), null);
  });
});

describe('ICE configuration and public writes', () => {
  it('maps host, port range and ICE servers', () => {
    assert.deepEqual(rtcConfigOf({ ...DEFAULT_WEBRTC_CONFIG, host: '127.0.0.1', portMin: 50000, portMax: 50100, iceServers: 'stun:stun.example.com:3478, turn:u:p@turn.example.com:3478, http://x' }), {
      iceServers: ['stun:stun.example.com:3478', 'turn:u:p@turn.example.com:3478'], enableIceTcp: false, bindAddress: '127.0.0.1', portRangeBegin: 50000, portRangeEnd: 50100,
    });
    assert.deepEqual(rtcConfigOf(DEFAULT_WEBRTC_CONFIG), { iceServers: [], enableIceTcp: false });
  });
  it('lets only WHEP offers and session ends through without the API token', () => {
    assert.equal(isWhepWrite('POST', '/live/main/whep'), true);
    assert.equal(isWhepWrite('POST', '/live/main/whep?rendition=720p'), true);
    assert.equal(isWhepWrite('DELETE', '/live/main/whep/abc_DEF-1'), true);
    assert.equal(isWhepWrite('PATCH', '/live/main/whep/abc'), true);
    assert.equal(isWhepWrite('DELETE', '/api/channels/main'), false);
    assert.equal(isWhepWrite('POST', '/live/main/whep/../../api/channels'), false);
    assert.equal(isWhepWrite('PUT', '/live/main/whep'), false);
  });
});
