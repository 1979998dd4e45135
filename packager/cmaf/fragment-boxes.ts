/** The boxes of a CMAF fragment (segment or LL-HLS part), one small function per box. */
import type { CmafSample } from '../model';
import { badMedia } from '../errors';
import { box, fourcc, fullBox, i32, u32, u64 } from './box-writer';

/** What the moof needs of a sample: its timing and its payload's size (the payload itself may be elsewhere). */
export type SampleLayout = Omit<CmafSample, 'data'> & { data: { readonly length: number } };

/** Sample flags (ISO/IEC 14496-12 §8.8.3.1): sync samples depend on nothing. */
export const SYNC_SAMPLE_FLAGS = 0x02000000;
/** Non-sync: depends on others (sample_depends_on = 1) and sample_is_non_sync_sample = 1. */
export const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

/** trun flags: data-offset, sample duration, size, flags and composition time offset present. */
export const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;
/** tfhd flag: default-base-is-moof (offsets are relative to the moof's first byte). */
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;

export function styp(majorBrand: string, minorVersion: number, compatible: string[]): Buffer {
  return box('styp', fourcc(majorBrand), u32(minorVersion), ...compatible.map(fourcc));
}

export function mfhd(sequenceNumber: number): Buffer {
  return fullBox('mfhd', 0, 0, u32(sequenceNumber));
}

export function tfhd(trackId: number): Buffer {
  return fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(trackId));
}

/** Version 1 (64-bit) base media decode time. */
export function tfdt(baseMediaDecodeTime: number): Buffer {
  return fullBox('tfdt', 1, 0, u64(baseMediaDecodeTime));
}

export function sampleFlags(sample: SampleLayout): number {
  return sample.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS;
}

/** Version 1 track run: signed composition offsets, per-sample duration/size/flags. */
export function trun(samples: readonly SampleLayout[], dataOffset: number): Buffer {
  const rows = samples.map((s) => Buffer.concat([
    u32(s.duration), u32(s.data.length), u32(sampleFlags(s)), i32(s.compositionOffset),
  ]));
  return fullBox('trun', 1, TRUN_FLAGS, u32(samples.length), i32(dataOffset), ...rows);
}

export function traf(trackId: number, baseMediaDecodeTime: number, samples: readonly SampleLayout[], dataOffset: number): Buffer {
  return box('traf', tfhd(trackId), tfdt(baseMediaDecodeTime), trun(samples, dataOffset));
}

/** One track's run in a fragment: its samples' payloads start `dataOffset` bytes after the moof's first byte. */
export interface TrackRun {
  trackId: number;
  baseMediaDecodeTime: number;
  samples: readonly SampleLayout[];
  dataOffset: number;
}

/** A moof with one traf per track run (several in a muxed fragment, every track's payloads in the one mdat after it). */
export function moof(sequenceNumber: number, runs: readonly TrackRun[]): Buffer {
  return box('moof', mfhd(sequenceNumber), ...runs.map((r) => traf(r.trackId, r.baseMediaDecodeTime, r.samples, r.dataOffset)));
}

export function mdat(payloads: Buffer[]): Buffer {
  return box('mdat', ...payloads);
}

/** The 8-byte header of an mdat box holding `payloadBytes` bytes (the same as `mdat`'s first 8 bytes). */
export function mdatHeader(payloadBytes: number): Buffer {
  const size = 8 + payloadBytes;
  if (size > 0xffffffff) throw badMedia(`MP4: box mdat of ${size} bytes exceeds 32-bit size`);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size, 0);
  header.write('mdat', 4, 'latin1');
  return header;
}
