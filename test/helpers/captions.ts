/**
 * A caption-bearing H.264 test stream: CEA-608 (field 1, CC1) pop-on captions carried as ATSC A/53 cc_data in
 * H.264 SEI (user_data_registered_itu_t_t35, "GA94"), inserted into every access unit of an Annex-B stream that
 * ffmpeg made. Pure functions over bytes; `makeCaptionedTs` runs ffmpeg twice (encode, then remux to MPEG-TS).
 *
 * Every access unit carries one cc_data triplet: a caption command or two characters while a caption is being
 * loaded, padding (0x80 0x80, a 608 null) otherwise. Each caption is loaded off screen (RCL … characters) and
 * shown at once (EOC), the way broadcast pop-on captions are made, so a decoder emits it whole.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** One byte with its top bit set so the byte has odd parity (CEA-608 §3). */
export function oddParity(b: number): number {
  const v = b & 0x7f;
  let ones = 0;
  for (let i = 0; i < 7; i++) ones += (v >> i) & 1;
  return ones % 2 === 0 ? v | 0x80 : v;
}

/** A 608 byte pair on data channel 1, with parity. */
export type CcPair = readonly [number, number];

const RCL: CcPair = [0x14, 0x20]; // resume caption loading (pop-on)
const ENM: CcPair = [0x14, 0x2e]; // erase non-displayed memory
const EOC: CcPair = [0x14, 0x2f]; // end of caption: swap memories, show the loaded caption
const PAC_ROW15: CcPair = [0x14, 0x70]; // preamble address code: row 15, column 0, white
export const CC_PADDING: CcPair = [0x80, 0x80];

/**
 * The byte pairs of one pop-on caption (commands doubled, as 608 encoders send them): load `text` (printable
 * ASCII, upper case recommended) and show it.
 */
export function popOnCaption(text: string): CcPair[] {
  if (!/^[\x20-\x7e]+$/.test(text) || text.length > 32) throw new Error('a 608 caption row is 1 to 32 printable ASCII characters');
  const pairs: CcPair[] = [RCL, RCL, ENM, ENM, PAC_ROW15, PAC_ROW15];
  for (let i = 0; i < text.length; i += 2) pairs.push([text.charCodeAt(i), i + 1 < text.length ? text.charCodeAt(i + 1) : 0]);
  pairs.push(EOC, EOC);
  return pairs.map(([a, b]) => [oddParity(a), oddParity(b)] as CcPair);
}

/** A cc_data triplet as written: marker bits, cc_valid, cc_type; then its two bytes. */
export type CcTriplet = readonly [number, number, number];

/**
 * The SEI payload: ITU-T T.35 (USA, ATSC), "GA94", cc_data() with the given field-1 pairs (cc_type 0), then any
 * further triplets as given (CEA-708 DTVCC, see `dtvccTriplets`), marker bits.
 */
export function a53Payload(pairs: readonly CcPair[], more: readonly CcTriplet[] = []): Buffer {
  const count = pairs.length + more.length;
  if (count === 0 || count > 31) throw new Error('cc_count is 1 to 31');
  const out = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03, 0x40 | count, 0xff];
  for (const [a, b] of pairs) out.push(0xfc, a, b); // marker bits, cc_valid = 1, cc_type = 0 (NTSC field 1)
  for (const t of more) out.push(...t);
  out.push(0xff);
  return Buffer.from(out);
}

/**
 * One CEA-708 DTVCC packet holding one service block of `service` (1-63; 7 and up use the extended header) with
 * `bytes` (G0 text, e.g. ASCII), as cc_data triplets: cc_type 3 (packet start) then 2 (packet data), all valid.
 */
export function dtvccTriplets(service: number, bytes: readonly number[], sequence = 0): CcTriplet[] {
  if (bytes.length < 1 || bytes.length > 31) throw new Error('a service block holds 1 to 31 bytes');
  const header = service < 7 ? [(service << 5) | bytes.length] : [(7 << 5) | bytes.length, service & 0x3f];
  let body = [...header, ...bytes];
  if ((body.length + 1) % 2) body = [...body, 0x00]; // a null block pads the packet to whole pairs
  const packet = [((sequence & 3) << 6) | ((body.length + 1) / 2), ...body];
  const out: CcTriplet[] = [];
  for (let i = 0; i < packet.length; i += 2) out.push([i === 0 ? 0xff : 0xfe, packet[i] as number, packet[i + 1] ?? 0]);
  return out;
}

/** DTVCC padding: a triplet a 708 service sends while it has nothing to say (cc_valid 0, cc_type 2). */
export const DTVCC_PADDING: CcTriplet = [0xfa, 0x00, 0x00];

import { escapeRbsp } from '../../transcoders/caption-carry';

export { escapeRbsp };

/** An SEI NAL unit (without start code) holding one user_data_registered_itu_t_t35 message. */
export function captionSeiNal(pairs: readonly CcPair[], more: readonly CcTriplet[] = []): Buffer {
  const payload = a53Payload(pairs, more);
  const rbsp: number[] = [4]; // payloadType 4
  let size = payload.length;
  while (size >= 255) {
    rbsp.push(255);
    size -= 255;
  }
  rbsp.push(size);
  return Buffer.concat([Buffer.from([0x06]), escapeRbsp(Buffer.concat([Buffer.from(rbsp), payload, Buffer.from([0x80])]))]);
}

/** Positions of Annex-B start codes: [offset of the start code, offset of the NAL]. */
function startCodes(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const begin = i > 0 && buf[i - 1] === 0 ? i - 1 : i;
      out.push([begin, i + 3]);
      i += 2;
    }
  }
  return out;
}

/**
 * Inserts one caption SEI before the first slice of every access unit of an Annex-B H.264 stream (access units
 * start at an AUD, NAL type 9: encode with `-x264-params aud=1`). `pairsFor(n)` gives access unit n's pairs
 * (decode order; the stream must have no B-frames, so decode order is display order). Returns the stream and
 * the number of access units.
 */
export function insertCaptions(annexB: Buffer, pairsFor: (au: number) => readonly CcPair[], moreFor: (au: number) => readonly CcTriplet[] = () => []): { stream: Buffer; accessUnits: number } {
  const codes = startCodes(annexB);
  const parts: Buffer[] = [];
  let au = -1;
  let captioned = true;
  let last = 0;
  for (const [begin, nal] of codes) {
    const type = (annexB[nal] ?? 0) & 0x1f;
    if (type === 9) {
      au++;
      captioned = false;
    }
    if ((type === 1 || type === 5) && !captioned && au >= 0) {
      parts.push(annexB.subarray(last, begin), Buffer.from([0, 0, 0, 1]), captionSeiNal(pairsFor(au), moreFor(au)));
      last = begin;
      captioned = true;
    }
  }
  parts.push(annexB.subarray(last));
  return { stream: Buffer.concat(parts), accessUnits: au + 1 };
}

/**
 * A caption schedule: every `everyFrames` access units, one pop-on caption of `texts` in turn; padding between.
 */
export function captionSchedule(texts: readonly string[], everyFrames: number): (au: number) => readonly CcPair[] {
  const captions = texts.map(popOnCaption);
  return (au) => {
    const cycle = Math.floor(au / everyFrames);
    const pairs = captions[cycle % captions.length] as CcPair[];
    const i = au % everyFrames;
    return [i < pairs.length ? (pairs[i] as CcPair) : CC_PADDING];
  };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
}

export interface CaptionedStreamOptions {
  seconds: number;
  fps?: number;
  size?: string;
  /** Caption texts shown in turn, one every `everySeconds`. */
  texts: readonly string[];
  everySeconds?: number;
  /** Include a sine audio track (AAC). Default true. */
  audio?: boolean;
  /** Also a CEA-708 service of this number: a block of text once a second, DTVCC padding between. */
  service708?: number;
}

/**
 * Writes an MPEG-TS file (H.264 testsrc2 with CEA-608 captions in SEI, AAC sine) into a fresh temporary folder
 * and returns its path and a `cleanup()`; publish it with `ffmpeg -re -i <file> -c copy -f mpegts <srt url>`.
 */
export async function makeCaptionedTs(o: CaptionedStreamOptions): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const fps = o.fps ?? 25;
  const dir = await mkdtemp(path.join(tmpdir(), 'beam-cc-'));
  const h264 = path.join(dir, 'video.h264');
  const file = path.join(dir, 'captioned.ts');
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '320x240'}:rate=${fps}`, '-t', String(o.seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', String(fps), '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1',
    '-f', 'h264', h264,
  ], 60_000);
  const service = o.service708;
  const dtvcc = service === undefined ? undefined : (au: number) => (au % fps === 0 ? dtvccTriplets(service, [...Buffer.from('HI')], au / fps) : [DTVCC_PADDING]);
  const { stream } = insertCaptions(await readFile(h264), captionSchedule(o.texts, Math.round((o.everySeconds ?? 2) * fps)), dtvcc);
  await writeFile(h264, stream);
  const audio = o.audio ?? true;
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-framerate', String(fps), '-f', 'h264', '-i', h264,
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(o.seconds), '-map', '0:v', '-map', '1:a', '-c:a', 'aac', '-b:a', '64k'] : []),
    '-c:v', 'copy', '-f', 'mpegts', file,
  ], 60_000);
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Reads the CEA-608 captions of a media file with ffmpeg's own caption decoder (lavfi `movie` with `+subcc`) and
 * answers the SubRip text: an independent reader of what a viewer's decoder would show.
 */
export function readCaptionsWithFfmpeg(file: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const escaped = file.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/:/g, '\\:');
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', `movie='${escaped}'[out0+subcc]`, '-map', '0:s', '-f', 'srt', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`ffmpeg (captions) exited ${code}: ${err}`));
    });
  });
}
