/**
 * Program-specific information of a single-program transport stream: the PAT and the PMT as
 * complete sections (CRC included), and the one TS packet that carries a section. Pure.
 */
import { badRenderInput } from '../errors';
import { crc32Mpeg2 } from './crc32';
import { TS_PACKET_SIZE } from './ts-packet';

export const PAT_PID = 0x0000;
export const STREAM_TYPE_H264 = 0x1b;
export const STREAM_TYPE_AAC_ADTS = 0x0f;

export interface PmtStream {
  /** stream_type (0x1B H.264, 0x0F AAC in ADTS). */
  streamType: number;
  pid: number;
}

export interface ProgramMap {
  programNumber: number;
  pmtPid: number;
  pcrPid: number;
  streams: PmtStream[];
}

function checkPid(what: string, pid: number): void {
  if (!Number.isInteger(pid) || pid < 0x10 || pid > 0x1ffe) throw badRenderInput(`TS: ${what} PID ${pid} outside 0x10..0x1FFE`);
}

/** A long-form section: header with section_length, the body, then CRC-32 over everything. */
function section(tableId: number, idExtension: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  const sectionLength = 5 + body.length + 4;
  if (sectionLength > 1021) throw badRenderInput(`TS: section of ${sectionLength} bytes is too long`);
  head[0] = tableId;
  head.writeUInt16BE(0xb000 | sectionLength, 1);
  head.writeUInt16BE(idExtension, 3);
  head[5] = 0xc1; // reserved, version 0, current_next_indicator 1
  head[6] = 0; // section_number
  head[7] = 0; // last_section_number
  const withoutCrc = Buffer.concat([head, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(withoutCrc));
  return Buffer.concat([withoutCrc, crc]);
}

/** The program association section: program `programNumber` → `pmtPid` (transport_stream_id 1). */
export function buildPat(programNumber: number, pmtPid: number): Buffer {
  checkPid('PMT', pmtPid);
  const body = Buffer.alloc(4);
  body.writeUInt16BE(programNumber, 0);
  body.writeUInt16BE(0xe000 | pmtPid, 2);
  return section(0x00, 1, body);
}

/** The program map section: PCR PID and the elementary streams (no descriptors). */
export function buildPmt(map: ProgramMap): Buffer {
  checkPid('PCR', map.pcrPid);
  const body = Buffer.alloc(4 + 5 * map.streams.length);
  body.writeUInt16BE(0xe000 | map.pcrPid, 0);
  body.writeUInt16BE(0xf000, 2); // program_info_length 0
  map.streams.forEach((s, i) => {
    checkPid('elementary stream', s.pid);
    const o = 4 + 5 * i;
    body[o] = s.streamType;
    body.writeUInt16BE(0xe000 | s.pid, o + 1);
    body.writeUInt16BE(0xf000, o + 3); // ES_info_length 0
  });
  return section(0x02, map.programNumber, body);
}

/** One TS packet carrying a whole section: pointer_field 0, the section, 0xFF filling. */
export function psiPacket(pid: number, sectionBytes: Buffer, cc: number): Buffer {
  if (sectionBytes.length > TS_PACKET_SIZE - 5) throw badRenderInput('TS: section does not fit one packet');
  const pkt = Buffer.alloc(TS_PACKET_SIZE, 0xff);
  pkt[0] = 0x47;
  pkt[1] = 0x40 | ((pid >> 8) & 0x1f);
  pkt[2] = pid & 0xff;
  pkt[3] = 0x10 | (cc & 0x0f);
  pkt[4] = 0; // pointer_field
  sectionBytes.copy(pkt, 5);
  return pkt;
}
