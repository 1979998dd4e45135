/**
 * Pure: a WHIP publisher's frames as an MPEG-TS byte stream (ISO/IEC 13818-1), the container the ingest
 * pipeline already demuxes from SRT publishers. H.264 access units go as Annex-B (stream_type 0x1B, one PES
 * each, led by an access unit delimiter); Opus frames as ETSI TS 102 366-style private data (stream_type
 * 0x06 with the 'Opus' registration descriptor and the channel-configuration extension descriptor, each frame
 * behind its opus_control_header), which libavformat reads as Opus: the ingest's audio path makes it AAC.
 * PAT and PMT lead the stream and every keyframe; the PCR rides on the video PID.
 *
 * packager/ts/ holds the packager's muxer (AAC and H.264 from stored samples, no descriptors); the WebRTC
 * role may not import it (dependency rule), and this writer needs only the few primitives below.
 */

const TS = 188;
const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const AUDIO_PID = 0x101;
const TWO_33 = 2 ** 33;

function crc32(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

function section(tableId: number, idExtension: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = tableId;
  head.writeUInt16BE(0xb000 | (5 + body.length + 4), 1);
  head.writeUInt16BE(idExtension, 3);
  head[5] = 0xc1;
  const s = Buffer.concat([head, body, Buffer.alloc(4)]);
  s.writeUInt32BE(crc32(s.subarray(0, s.length - 4)), s.length - 4);
  return s;
}

/** The PAT (program 1 → PMT_PID). */
export function patSection(): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt16BE(1, 0);
  body.writeUInt16BE(0xe000 | PMT_PID, 2);
  return section(0x00, 1, body);
}

/** The PMT: H.264 on VIDEO_PID, and Opus (`channels` 1 or 2) on AUDIO_PID when there is audio. */
export function pmtSection(audioChannels: number | null): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xe000 | VIDEO_PID, 0);
  head.writeUInt16BE(0xf000, 2);
  parts.push(head, Buffer.from([0x1b, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00]));
  if (audioChannels !== null) {
    // registration_descriptor 'Opus'; extension_descriptor 0x80 (Opus) with channel_config_code.
    const desc = Buffer.from([0x05, 0x04, 0x4f, 0x70, 0x75, 0x73, 0x7f, 0x02, 0x80, audioChannels === 1 ? 1 : 2]);
    parts.push(Buffer.from([0x06, 0xe0 | (AUDIO_PID >> 8), AUDIO_PID & 0xff, 0xf0, desc.length]), desc);
  }
  return section(0x02, 1, Buffer.concat(parts));
}

function timestamp(prefix: number, t: number): Buffer {
  const v = ((Math.round(t) % TWO_33) + TWO_33) % TWO_33;
  const top = Math.floor(v / 2 ** 30);
  const low = v % 2 ** 30;
  return Buffer.from([((prefix & 0x0f) << 4) | (top << 1) | 1, (low >> 22) & 0xff, (((low >> 15) & 0x7f) << 1) | 1, (low >> 7) & 0xff, ((low & 0x7f) << 1) | 1]);
}

/**
 * A PES packet with a PTS (90 kHz); `unbounded` leaves PES_packet_length 0. Video is written bounded whenever it
 * fits (≤ 65,535 bytes): libavformat hands out a bounded PES as soon as its last byte is in, an unbounded one
 * only when the next PES of its PID begins, a frame later.
 */
export function pesPacket(streamId: number, pts: number, payload: Buffer, unbounded: boolean): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(0x000001, 0, 3);
  h[3] = streamId;
  const length = 3 + 5 + payload.length;
  h.writeUInt16BE(unbounded || length > 0xffff ? 0 : length, 4);
  h[6] = 0x84;
  h[7] = 0x80;
  h[8] = 5;
  return Buffer.concat([h, timestamp(2, pts), payload]);
}

/** An Opus frame behind its opus_control_header (prefix 0x3FF, no trims, no extension; au_size in 255-steps). */
export function opusAccessUnit(frame: Buffer): Buffer {
  const size: number[] = [];
  let n = frame.length;
  while (n >= 255) {
    size.push(255);
    n -= 255;
  }
  size.push(n);
  return Buffer.concat([Buffer.from([0x7f, 0xe0, ...size]), frame]);
}

export interface TsPacketizer {
  /** The payload split in 188-byte packets of `pid`, the first with payload_unit_start (and a PCR if given). */
  packets(pid: number, payload: Buffer, opts?: { pcr90?: number; randomAccess?: boolean; psi?: boolean }): Buffer;
}

/** Continuity counters per PID, kept across calls. */
export function createTsPacketizer(): TsPacketizer {
  const cc = new Map<number, number>();
  return {
    packets(pid, payload, opts = {}) {
      const out: Buffer[] = [];
      let pos = 0;
      let first = true;
      const data = opts.psi ? Buffer.concat([Buffer.from([0]), payload]) : payload; // pointer_field
      while (pos < data.length || first) {
        const pkt = Buffer.alloc(TS, 0xff);
        const counter = cc.get(pid) ?? 0;
        cc.set(pid, (counter + 1) & 0x0f);
        pkt[0] = 0x47;
        pkt[1] = (first ? 0x40 : 0) | ((pid >> 8) & 0x1f);
        pkt[2] = pid & 0xff;
        let af = 0;
        const pcr = first && opts.pcr90 !== undefined && !opts.psi;
        const flags = pcr || (first && opts.randomAccess);
        const need = flags ? (pcr ? 8 : 2) : 0;
        const room = TS - 4 - need;
        const take = Math.min(room, data.length - pos);
        if (opts.psi) {
          // sections are padded with 0xff after their end (no adaptation field)
          pkt[3] = 0x10 | counter;
          data.copy(pkt, 4, pos, pos + take);
          pos += take;
          out.push(pkt);
          first = false;
          continue;
        }
        af = TS - 4 - take; // adaptation field bytes, length byte included
        pkt[3] = (af > 0 ? 0x30 : 0x10) | counter;
        if (af > 0) {
          pkt[4] = af - 1;
          if (af > 1) {
            pkt[5] = (first && opts.randomAccess ? 0x40 : 0) | (pcr ? 0x10 : 0);
            if (pcr) {
              const base = ((Math.round(opts.pcr90 as number) % TWO_33) + TWO_33) % TWO_33;
              pkt.writeUInt32BE(Math.floor(base / 2), 6);
              pkt[10] = ((base % 2) << 7) | 0x7e;
              pkt[11] = 0;
            }
          }
        }
        data.copy(pkt, 4 + af, pos, pos + take);
        pos += take;
        out.push(pkt);
        first = false;
      }
      return Buffer.concat(out);
    },
  };
}

export interface WhipTsWriter {
  /** One H.264 access unit (Annex-B) at `pts` (90 kHz). */
  video(annexB: Buffer, pts: number, keyframe: boolean): Buffer;
  /** One Opus frame at `pts` (90 kHz); empty when the stream has no audio. */
  audio(frame: Buffer, pts: number): Buffer;
}

const AUD = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);

/** An MPEG-TS writer for one publish: PAT/PMT at the start and before every keyframe. */
export function createWhipTsWriter(opts: { audioChannels: number | null }): WhipTsWriter {
  const p = createTsPacketizer();
  const pat = patSection();
  const pmt = pmtSection(opts.audioChannels);
  let tables = true;
  return {
    video(annexB, pts, keyframe) {
      const parts: Buffer[] = [];
      if (tables || keyframe) {
        parts.push(p.packets(0, pat, { psi: true }), p.packets(PMT_PID, pmt, { psi: true }));
        tables = false;
      }
      parts.push(p.packets(VIDEO_PID, pesPacket(0xe0, pts, Buffer.concat([AUD, annexB]), false), { pcr90: pts, randomAccess: keyframe }));
      return Buffer.concat(parts);
    },
    audio(frame, pts) {
      if (opts.audioChannels === null) return Buffer.alloc(0);
      return p.packets(AUDIO_PID, pesPacket(0xbd, pts, opusAccessUnit(frame), false));
    },
  };
}
