/** CMAF headers (init segments) and fragments (segments, LL-HLS parts) from resolved tracks. */
import { badMedia } from '../errors';
import type { CmafSample, CmafTrack } from '../model';
import { mdatHeader, moof, styp, type SampleLayout, type TrackRun } from './fragment-boxes';
import { ftyp, moov } from './init-boxes';

/** An init segment: ftyp + moov with one trak (and trex) per track. */
export function buildInitSegment(tracks: CmafTrack[]): Buffer {
  if (tracks.length === 0) throw badMedia('CMAF: an init segment needs at least one track');
  const ids = new Set(tracks.map((t) => t.id));
  if (ids.size !== tracks.length) throw badMedia('CMAF: track ids in one init segment must be unique');
  for (const t of tracks) {
    if (!Number.isInteger(t.id) || t.id < 1) throw badMedia(`CMAF: track id ${t.id} must be a positive integer`);
    if (!Number.isInteger(t.timescale) || t.timescale < 1) throw badMedia(`CMAF: track ${t.id} timescale ${t.timescale} is invalid`);
  }
  return Buffer.concat([ftyp('iso6', 0, ['iso6', 'cmfc', 'mp41']), moov(tracks)]);
}

export interface MediaSegmentOptions {
  /** Prefix an `styp` box (default true). */
  styp?: boolean;
}

/**
 * One fragment (styp + moof + mdat) of one track. The same function builds full segments and
 * LL-HLS parts: a part is a smaller fragment. `baseDecodeTime` defaults to the first sample's
 * decode time; sample durations must already be in the track's media timescale.
 */
export function buildMediaSegment(track: CmafTrack, samples: CmafSample[], sequenceNumber: number,
  baseDecodeTime?: number, options: MediaSegmentOptions = {}): Buffer {
  return Buffer.concat([buildFragmentHead(track, samples, sequenceNumber, baseDecodeTime, options), ...samples.map((s) => s.data)]);
}

/** One track's share of a muxed fragment. */
export interface FragmentTrack {
  track: CmafTrack;
  samples: readonly CmafSample[];
  /** Defaults to the first sample's decode time. */
  baseDecodeTime?: number;
}

/**
 * One fragment (styp + moof + mdat) of several tracks (a muxed HLS segment or part, video and audio): one traf per
 * track in the given order, and their payloads in the same order in one mdat. A track without samples is left out;
 * at least one must have some.
 */
export function buildMuxedSegment(tracks: readonly FragmentTrack[], sequenceNumber: number, options: MediaSegmentOptions = {}): Buffer {
  const present = tracks.filter((t) => t.samples.length > 0);
  if (present.length === 0) throw badMedia(`CMAF: fragment ${sequenceNumber} has no samples in any track`);
  if (new Set(present.map((t) => t.track.id)).size !== present.length) throw badMedia('CMAF: track ids in one fragment must be unique');
  checkSequence(sequenceNumber);
  const runs = present.map((t) => ({ trackId: t.track.id, baseMediaDecodeTime: checkedBase(t.track, t.samples, t.baseDecodeTime), samples: t.samples }));
  return Buffer.concat([fragmentHead(runs, sequenceNumber, options), ...present.flatMap((t) => t.samples.map((s) => s.data))]);
}

/** styp + a moof of one traf per run + the mdat header; the runs' payloads follow it in the same order. */
function fragmentHead(runs: readonly Omit<TrackRun, 'dataOffset'>[], sequenceNumber: number, options: MediaSegmentOptions): Buffer {
  const payloadBytes = runs.map((r) => r.samples.reduce((n, s) => n + s.data.length, 0));
  // Offsets are fixed-width fields: the moof's size does not depend on them.
  let offset = moof(sequenceNumber, runs.map((r) => ({ ...r, dataOffset: 0 }))).length + 8;
  const placed = runs.map((r, i) => {
    const run = { ...r, dataOffset: offset };
    offset += payloadBytes[i] as number;
    return run;
  });
  const head = options.styp === false ? [] : [styp('msdh', 0, ['msdh', 'cmfs', 'cmff'])];
  return Buffer.concat([...head, moof(sequenceNumber, placed), mdatHeader(payloadBytes.reduce((a, b) => a + b, 0))]);
}

function checkSequence(sequenceNumber: number): void {
  if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > 0xffffffff) {
    throw badMedia(`CMAF: sequence number ${sequenceNumber} out of range`);
  }
}

/** The fragment's base decode time for a track (its first sample's unless given), with its samples checked. */
function checkedBase(track: CmafTrack, samples: readonly SampleLayout[], baseDecodeTime: number | undefined): number {
  const first = samples[0];
  if (!first) throw badMedia(`CMAF: a fragment of track ${track.id} has no samples`);
  const base = baseDecodeTime ?? first.dts;
  if (!Number.isSafeInteger(base) || base < 0) {
    throw badMedia(`CMAF: base decode time ${base} of track ${track.id} must be a non-negative integer`);
  }
  samples.forEach((s, i) => {
    if (!Number.isInteger(s.duration) || s.duration < 0) throw badMedia(`CMAF: sample ${i} has invalid duration ${s.duration}`);
    if (!Number.isInteger(s.compositionOffset)) throw badMedia(`CMAF: sample ${i} has invalid composition offset`);
    if (s.data.length === 0) throw badMedia(`CMAF: sample ${i} of track ${track.id} is empty`);
  });
  return base;
}

/**
 * A fragment's bytes before its payloads: styp + moof + the mdat box's 8-byte header, from the samples' timing
 * and payload sizes only. `buildMediaSegment` is this followed by the payloads in order (so a segment whose
 * payloads are elsewhere, an archive, can be sent as this head and then those bytes).
 */
export function buildFragmentHead(track: CmafTrack, samples: readonly SampleLayout[], sequenceNumber: number,
  baseDecodeTime?: number, options: MediaSegmentOptions = {}): Buffer {
  if (!samples[0]) throw badMedia(`CMAF: fragment ${sequenceNumber} of track ${track.id} has no samples`);
  checkSequence(sequenceNumber);
  return fragmentHead([{ trackId: track.id, baseMediaDecodeTime: checkedBase(track, samples, baseDecodeTime), samples }], sequenceNumber, options);
}
