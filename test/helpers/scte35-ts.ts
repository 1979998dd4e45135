/**
 * A broadcast encoder's SCTE-35 for tests: adds a SCTE-35 PID to an MPEG-TS stream as it flows (ffmpeg's TS
 * on the way to an SRT caller) and sends splice_info_sections on it at chosen video times, as encoders and
 * playout systems do. The PMT gains the program's `CUEI` registration descriptor and an ES entry (stream type
 * 0x86); each section goes out in its own TS packets right before the first video packet at or after its time.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { crc32Mpeg2 } from '../../core/model/marker';

const TS = 188;

export interface ScheduledSection {
  /** Sent before the first video PES whose pts (90 kHz, as in the stream) is at or after this, relative to the first video pts. */
  afterSeconds: number;
  /** The section: `(firstVideoPts, sendPts) => bytes`, so its splice_time can be put in the stream's own clock. */
  section: (firstVideoPts: number, sendPts: number) => Buffer;
}

export function withScte35(pid: number, schedule: readonly ScheduledSection[]): Transform {
  let carry = Buffer.alloc(0);
  let pmtPid: number | null = null;
  let videoPid: number | null = null;
  let firstPts: number | null = null;
  let cc = 0;
  const pending = [...schedule].sort((a, b) => a.afterSeconds - b.afterSeconds);

  const sectionPackets = (section: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let rest = Buffer.concat([Buffer.from([0]), section]); // pointer_field
    let first = true;
    while (rest.length > 0) {
      const p = Buffer.alloc(TS, 0xff);
      p[0] = 0x47;
      p[1] = (first ? 0x40 : 0) | ((pid >> 8) & 0x1f);
      p[2] = pid & 0xff;
      p[3] = 0x10 | (cc & 0x0f);
      cc = (cc + 1) & 0x0f;
      const n = Math.min(TS - 4, rest.length);
      rest.copy(p, 4, 0, n);
      rest = rest.subarray(n);
      first = false;
      out.push(p);
    }
    return out;
  };

  /** The PMT packet with the registration descriptor and the SCTE-35 ES entry added (a one-packet PMT). */
  const rewritePmt = (p: Buffer): Buffer => {
    if (!(p[1]! & 0x40)) return p;
    const afc = (p[3]! >> 4) & 3;
    let off = 4 + (afc & 2 ? 1 + p[4]! : 0);
    off += 1 + p[off]!; // pointer_field
    const sectionLength = ((p[off + 1]! & 0x0f) << 8) | p[off + 2]!;
    const section = p.subarray(off, off + 3 + sectionLength);
    if (section[0] !== 0x02) return p;
    const programInfoLength = ((section[10]! & 0x0f) << 8) | section[11]!;
    const head = section.subarray(0, 12);
    const programInfo = section.subarray(12, 12 + programInfoLength);
    const esLoop = section.subarray(12 + programInfoLength, section.length - 4);
    if (esLoop.includes(Buffer.from([0x86, 0xe0 | (pid >> 8), pid & 0xff]))) return p;
    const cuei = Buffer.from([0x05, 0x04, 0x43, 0x55, 0x45, 0x49]); // registration_descriptor 'CUEI'
    const entry = Buffer.from([0x86, 0xe0 | ((pid >> 8) & 0x1f), pid & 0xff, 0xf0, 0x00]);
    const newInfoLength = programInfoLength + cuei.length;
    const body = Buffer.concat([head, programInfo, cuei, esLoop, entry]);
    const newLength = body.length - 3 + 4;
    body[1] = (body[1]! & 0xf0) | ((newLength >> 8) & 0x0f);
    body[2] = newLength & 0xff;
    body[10] = (body[10]! & 0xf0) | ((newInfoLength >> 8) & 0x0f);
    body[11] = newInfoLength & 0xff;
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32Mpeg2(body));
    const full = Buffer.concat([body, crc]);
    if (off + full.length > TS) throw new Error('the PMT with SCTE-35 does not fit one TS packet');
    const out = Buffer.alloc(TS, 0xff);
    p.copy(out, 0, 0, off);
    full.copy(out, off);
    return out;
  };

  /** Video ES PID from the PMT (stream type 0x1B). */
  const findVideo = (p: Buffer): void => {
    const afc = (p[3]! >> 4) & 3;
    let off = 4 + (afc & 2 ? 1 + p[4]! : 0);
    off += 1 + p[off]!;
    const sectionLength = ((p[off + 1]! & 0x0f) << 8) | p[off + 2]!;
    const end = off + 3 + sectionLength - 4;
    let i = off + 12 + (((p[off + 10]! & 0x0f) << 8) | p[off + 11]!);
    while (i + 5 <= end) {
      const type = p[i]!;
      const esPid = ((p[i + 1]! & 0x1f) << 8) | p[i + 2]!;
      if (type === 0x1b && videoPid === null) videoPid = esPid;
      i += 5 + (((p[i + 3]! & 0x0f) << 8) | p[i + 4]!);
    }
  };

  /** The PTS of a PES starting in this packet, or null. */
  const pesPts = (p: Buffer): number | null => {
    if (!(p[1]! & 0x40)) return null;
    const afc = (p[3]! >> 4) & 3;
    if (!(afc & 1)) return null;
    const off = 4 + (afc & 2 ? 1 + p[4]! : 0);
    if (p[off] !== 0 || p[off + 1] !== 0 || p[off + 2] !== 1 || !(p[off + 7]! & 0x80)) return null;
    const b = p.subarray(off + 9, off + 14);
    return (((b[0]! >> 1) & 0x07) * 2 ** 30) + (((b[1]! << 7) | (b[2]! >> 1)) * 2 ** 15) + ((b[3]! << 7) | (b[4]! >> 1));
  };

  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = data.length - (data.length % TS);
      carry = Buffer.from(data.subarray(whole));
      const out: Buffer[] = [];
      for (let i = 0; i < whole; i += TS) {
        let p = data.subarray(i, i + TS);
        const packetPid = ((p[1]! & 0x1f) << 8) | p[2]!;
        if (packetPid === 0 && p[1]! & 0x40 && pmtPid === null) {
          const off = 4 + 1 + p[4]!;
          pmtPid = ((p[off + 10]! & 0x1f) << 8) | p[off + 11]!;
        } else if (packetPid === pmtPid) {
          findVideo(p);
          p = rewritePmt(Buffer.from(p));
        } else if (packetPid === videoPid) {
          const pts = pesPts(p);
          if (pts !== null) {
            if (firstPts === null) firstPts = pts;
            while (pending.length > 0 && pts - firstPts >= pending[0]!.afterSeconds * 90000) {
              out.push(...sectionPackets(pending.shift()!.section(firstPts, pts)));
            }
          }
        }
        out.push(p);
      }
      done(null, Buffer.concat(out));
    },
  });
}
